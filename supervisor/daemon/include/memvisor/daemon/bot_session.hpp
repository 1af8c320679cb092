// BotSession: one bot's connection on the bot socket. Runs the handshake, sends commands
// with per-request deadlines (no answer in time = a failed request), routes replies,
// stats and events, and closes itself (error frame first) on a malformed frame. Lives on
// the daemon's io_context; shared_from_this keeps it alive while an operation is pending.
#pragma once

#include <sys/types.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "memvisor/listener/unix_listener.hpp"
#include "memvisor/proto/codec.hpp"
#include "memvisor/proto/framer.hpp"
#include "memvisor/proto/messages.hpp"
#include "memvisor/result.hpp"

namespace memvisor::daemon {

using listener::PeerCred;

class BotSession;

// What the daemon decides about a connection and hears from it. All run on the io thread.
struct SessionHooks {
  struct Admission {
    std::string name;  // the bot this connection speaks for
    std::int64_t stats_interval_ms = 5000;
  };
  // A hello arrived. Return the admission, or an Error whose code (errc::) and message go
  // to the peer before the connection closes (not_permitted, unknown_bot, busy).
  std::function<Result<Admission>(const std::shared_ptr<BotSession>&, const proto::Hello&)>
      on_hello;
  std::function<void(const std::shared_ptr<BotSession>&, const proto::Stats&)> on_stats;
  std::function<void(const std::shared_ptr<BotSession>&, const proto::Event&)> on_event;
  // An admitted session ended (bot left, protocol error, stop). Not called for refused ones.
  std::function<void(const std::shared_ptr<BotSession>&, const std::string& reason)> on_closed;
  // A connection-level problem worth a journal line: refused, malformed frame, overflow.
  std::function<void(const PeerCred&, const std::string& code, const std::string& message)>
      on_notice;
};

struct SessionOptions {
  std::chrono::milliseconds handshake_timeout{5000};
  // Added to each request's deadline for the trip over the socket: the bot's own deadline
  // is what it was asked to meet; this is when memvisord stops waiting.
  std::chrono::milliseconds reply_grace{1000};
  std::size_t max_queued_frames = 256;           // a bot that does not read is cut off beyond this
  std::chrono::milliseconds close_linger{1000};  // to deliver a final error frame
};

class BotSession : public std::enable_shared_from_this<BotSession> {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;
  // The reply (ActionResult, Pong, Ack) or an Error: code "timeout" (deadline passed),
  // "not_connected" (session closed first), or the bot's ErrorMsg code.
  using ReplyHandler = std::function<void(Result<proto::Message>)>;

  BotSession(Socket socket, PeerCred peer, const SessionHooks& hooks, SessionOptions options,
             std::uint64_t id, std::function<void(std::uint64_t)> on_gone);
  ~BotSession();

  void start();
  // Sends a request (ActionRequest, Ping or Shutdown; its id is assigned here) and waits up
  // to `deadline` + reply_grace for the answer. `done` runs exactly once.
  std::uint64_t request(proto::Message message, std::chrono::milliseconds deadline,
                        ReplyHandler done);
  // Closes the connection; pending requests fail with "not_connected".
  void close(const std::string& reason);
  // Tells the peer why first: one connection-level `error` frame (code, message), then the
  // close once it is written or close_linger has passed. Used when another connection
  // replaces this one (PROTOCOL.md 7.4, `replaced`).
  void closeWithError(const std::string& code, const std::string& message);

  const PeerCred& peer() const { return peer_; }
  const std::string& botName() const { return name_; }
  bool admitted() const { return admitted_; }
  bool open() const { return !closed_; }
  std::uint64_t id() const { return id_; }
  const proto::Hello& hello() const { return hello_; }

 private:
  void read();
  void onFrame(const std::string& frame);
  void onMessage(proto::Message m);
  void send(const proto::Message& m);
  void write();
  // Error frame (echoing `id` when it answers a frame that had one), then close.
  void fail(const std::string& code, const std::string& message,
            std::optional<std::uint64_t> id = std::nullopt);
  void sendErrorAndClose(const std::string& code, const std::string& message,
                         std::optional<std::uint64_t> id, const std::string& reason);
  void finish(const std::string& reason);

  Socket socket_;
  PeerCred peer_;
  SessionHooks hooks_;
  SessionOptions options_;
  std::uint64_t id_;
  std::function<void(std::uint64_t)> on_gone_;
  proto::Framer framer_;
  proto::HandshakeState handshake_{proto::HandshakeState::Side::kDaemon};
  proto::Hello hello_;
  std::string name_;
  bool admitted_ = false;
  bool closed_ = false;
  bool closing_ = false;  // flushing a final frame
  std::string closing_reason_;
  std::array<char, 8192> buffer_{};
  std::deque<std::string> queue_;
  bool writing_ = false;
  boost::asio::steady_timer handshake_timer_;
  boost::asio::steady_timer linger_timer_;
  struct Pending {
    std::unique_ptr<boost::asio::steady_timer> timer;
    ReplyHandler done;
  };
  std::map<std::uint64_t, Pending> pending_;
  std::uint64_t next_id_ = 1;
};

}  // namespace memvisor::daemon
