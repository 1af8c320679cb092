// A test-side memvisord: a real Unix-socket server speaking the wire protocol with blocking
// calls and timeouts, so tests can script the daemon's side of a conversation.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include "memvisor/proto/framer.hpp"
#include "memvisor/proto/messages.hpp"

namespace memvisor::testing {

using std::chrono::milliseconds;

class FakeMemvisord {
 public:
  explicit FakeMemvisord(std::string path);  // binds and listens; aborts the test on error
  ~FakeMemvisord();
  FakeMemvisord(const FakeMemvisord&) = delete;
  FakeMemvisord& operator=(const FakeMemvisord&) = delete;

  const std::string& path() const { return path_; }
  // Accepts one connection (dropping the previous one). False on timeout.
  bool accept(milliseconds timeout);
  // accept() + expect a Hello + send a Welcome; returns the Hello.
  std::optional<proto::Hello> handshake(milliseconds timeout, std::int64_t stats_interval_ms = 5000);
  bool send(const proto::Message& m);
  bool sendRaw(const std::string& bytes);
  // Next decoded frame; nullopt on timeout, EOF or a bad frame (see lastError()).
  std::optional<proto::Message> recv(milliseconds timeout);
  // Next frame of type T, skipping others (stats, events); nullopt on timeout or EOF.
  template <typename T>
  std::optional<T> recvType(milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto m = recv(left);
      if (!m) return std::nullopt;
      if (auto* t = std::get_if<T>(&*m)) return *t;
    }
  }
  // True if the peer closed the connection within `timeout` (frames before the EOF are
  // discarded).
  bool waitPeerClosed(milliseconds timeout);
  void closeConnection();
  void closeListener();  // also unlinks the socket file
  const std::string& lastError() const { return last_error_; }

 private:
  std::string path_;
  int listen_fd_ = -1;
  int conn_fd_ = -1;
  proto::Framer framer_;
  bool eof_ = false;
  std::string last_error_;
};

// A unique directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace memvisor::testing
