// RawClient: a non-blocking Unix-socket client that speaks frames, for tests whose own
// thread also runs the io_context (so it never blocks): send a message or raw bytes, poll()
// what arrived, look at the last frame of a type.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "memvisor/proto/codec.hpp"

namespace memvisor::testing {

class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void sendRaw(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  void send(const proto::Message& m) { sendRaw(proto::encodeFrame(m)); }
  // Reads what is available; true once the server closed the connection.
  bool poll() {
    char buf[4096];
    while (true) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) eof_ = true;
      break;
    }
    std::size_t nl;
    while ((nl = in_.find('\n')) != std::string::npos) {
      auto m = proto::decode(in_.substr(0, nl));
      if (m) frames.push_back(std::move(m.value()));
      in_.erase(0, nl + 1);
    }
    return eof_;
  }
  bool eof() const { return eof_; }
  template <typename T>
  const T* last() const {
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
      if (const auto* v = std::get_if<T>(&*it)) return v;
    }
    return nullptr;
  }
  std::vector<proto::Message> frames;

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string in_;
};

}  // namespace memvisor::testing
