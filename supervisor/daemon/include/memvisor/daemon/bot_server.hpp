// BotServer: memvisord's bot socket. Owns the listening Unix socket and every BotSession
// (the session manager: stop() closes them all); reads each peer's SO_PEERCRED at accept.
// Who may speak for which bot is the SessionHooks::on_hello decision, not the server's.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "memvisor/daemon/bot_session.hpp"
#include "memvisor/listener/unix_listener.hpp"
#include "memvisor/result.hpp"

namespace memvisor::daemon {

struct BotServerOptions {
  std::string path;
  // Explicit socket mode. Access is decided per peer by SO_PEERCRED (the supervised process
  // tree, or a configured uid), so bots running as another user must be able to connect.
  mode_t mode = 0666;
  std::size_t max_connections = 64;
  SessionOptions session;
};

class BotServer {
 public:
  BotServer(boost::asio::io_context& io, BotServerOptions options, SessionHooks hooks);
  ~BotServer();
  BotServer(const BotServer&) = delete;
  BotServer& operator=(const BotServer&) = delete;

  Result<void> start();
  // Closes the acceptor and every session, unlinks the socket. Idempotent.
  void stop();

  std::size_t sessionCount() const { return sessions_.size(); }
  const std::string& path() const { return options_.path; }

 private:
  void onAccepted(boost::asio::local::stream_protocol::socket socket);

  boost::asio::io_context& io_;
  BotServerOptions options_;
  SessionHooks hooks_;
  listener::UnixListener listener_;
  std::map<std::uint64_t, std::shared_ptr<BotSession>> sessions_;
  std::uint64_t next_id_ = 1;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace memvisor::daemon
