// Client: memvisorctl's blocking connection to memvisord's control socket. Connects,
// performs the control handshake and exchanges frames with deadlines. Its errors carry
// codes that map to memvisorctl's exit codes (see exitCodeFor).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "memvisor/proto/framer.hpp"
#include "memvisor/proto/messages.hpp"
#include "memvisor/result.hpp"

namespace memvisor::ctl {

// Exit codes, documented in --help.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;        // an action or request failed
inline constexpr int kExitUsage = 2;         // bad command line
inline constexpr int kExitNoConnect = 3;     // cannot reach memvisord
inline constexpr int kExitNotPermitted = 4;  // memvisord refused us

// Client-side error codes besides proto::errc ones.
inline constexpr const char* kCannotConnect = "cannot_connect";
inline constexpr const char* kDisconnected = "disconnected";

int exitCodeFor(const Error& e);

class Client {
 public:
  Client() = default;
  ~Client();
  Client(Client&& o) noexcept;
  Client& operator=(Client&& o) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects to `path` and completes the handshake within `timeout`.
  static Result<Client> connect(const std::string& path, std::chrono::milliseconds timeout);

  Result<void> send(const proto::Message& m);
  // Next frame; timeout < 0 waits forever. Error code "timeout" when it passes.
  Result<proto::Message> receive(std::chrono::milliseconds timeout);
  // Sends `m` (its id is set here) and waits for the reply carrying that id; an answer
  // that memvisord sends in parts is returned whole.
  Result<proto::Message> request(proto::Message m, std::chrono::milliseconds timeout);
  std::uint64_t nextId() { return next_id_++; }
  int fd() const { return fd_; }
  std::int64_t daemonPid() const { return daemon_pid_; }

 private:
  using Clock = std::chrono::steady_clock;
  Result<proto::Message> collectParts(proto::Message first, Clock::time_point deadline);

  int fd_ = -1;
  std::string path_;
  proto::Framer framer_;
  std::uint64_t next_id_ = 1;
  std::int64_t daemon_pid_ = 0;
};

}  // namespace memvisor::ctl
