#include "fake_memvisord.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "memvisor/proto/codec.hpp"

namespace memvisor::testing {

namespace {
int pollFor(int fd, short events, milliseconds timeout) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, timeout.count())));
}
}  // namespace

FakeMemvisord::FakeMemvisord(std::string path) : path_(std::move(path)) {
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + path_);
  std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
  ::unlink(path_.c_str());
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 8) != 0) {
    throw std::runtime_error("bind/listen " + path_ + ": " + std::strerror(errno));
  }
}

FakeMemvisord::~FakeMemvisord() {
  closeConnection();
  closeListener();
}

bool FakeMemvisord::accept(milliseconds timeout) {
  closeConnection();
  if (listen_fd_ < 0 || pollFor(listen_fd_, POLLIN, timeout) <= 0) return false;
  conn_fd_ = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  framer_ = proto::Framer();
  eof_ = false;
  return conn_fd_ >= 0;
}

std::optional<proto::Hello> FakeMemvisord::handshake(milliseconds timeout, std::int64_t stats_interval_ms) {
  if (!accept(timeout)) return std::nullopt;
  auto hello = recvType<proto::Hello>(timeout);
  if (!hello) return std::nullopt;
  proto::Welcome w;
  w.pid = ::getpid();
  w.name = hello->name;
  w.stats_interval_ms = stats_interval_ms;
  if (!send(w)) return std::nullopt;
  return hello;
}

bool FakeMemvisord::send(const proto::Message& m) { return sendRaw(proto::encodeFrame(m)); }

bool FakeMemvisord::sendRaw(const std::string& bytes) {
  if (conn_fd_ < 0) return false;
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(conn_fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<proto::Message> FakeMemvisord::recv(milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  std::string frame;
  while (true) {
    const auto st = framer_.next(frame);
    if (st == proto::Framer::Status::kFrame) {
      auto m = proto::decode(frame);
      if (!m) {
        last_error_ = m.error().code + ": " + m.error().message;
        return std::nullopt;
      }
      return *m;
    }
    if (st == proto::Framer::Status::kTooLarge) {
      last_error_ = "frame too large";
      return std::nullopt;
    }
    if (conn_fd_ < 0 || eof_) return std::nullopt;
    const auto left = std::chrono::duration_cast<milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0 || pollFor(conn_fd_, POLLIN, left) <= 0) {
      last_error_ = "timeout";
      return std::nullopt;
    }
    char buf[65536];
    const ssize_t n = ::read(conn_fd_, buf, sizeof buf);
    if (n <= 0) {
      eof_ = true;
      last_error_ = "eof";
      continue;
    }
    framer_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

bool FakeMemvisord::waitPeerClosed(milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (conn_fd_ >= 0 && !eof_) {
    const auto left = std::chrono::duration_cast<milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0 || pollFor(conn_fd_, POLLIN, left) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::read(conn_fd_, buf, sizeof buf);
    if (n <= 0) eof_ = true;
  }
  return eof_;
}

void FakeMemvisord::closeConnection() {
  if (conn_fd_ >= 0) ::close(conn_fd_);
  conn_fd_ = -1;
}

void FakeMemvisord::closeListener() {
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
  listen_fd_ = -1;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/memvisor-bot-test-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace memvisor::testing
