// One bot connection: handshake, request/reply with deadlines, bounded write queue.
// Every handler captures `self`; operation_aborted after close() is ignored.
#include "memvisor/daemon/bot_session.hpp"

#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

namespace memvisor::daemon {

namespace asio = boost::asio;

namespace {
std::uint64_t replyId(const proto::Message& m) {
  if (const auto* r = std::get_if<proto::ActionResult>(&m)) return r->id;
  if (const auto* r = std::get_if<proto::Pong>(&m)) return r->id;
  if (const auto* r = std::get_if<proto::Ack>(&m)) return r->id;
  if (const auto* r = std::get_if<proto::ErrorMsg>(&m)) return r->id.value_or(0);
  return 0;
}

void assignId(proto::Message& m, std::uint64_t id) {
  std::visit(
      [id](auto& v) {
        if constexpr (requires { v.id = id; }) v.id = id;
      },
      m);
}
}  // namespace

BotSession::BotSession(Socket socket, PeerCred peer, const SessionHooks& hooks,
                       SessionOptions options, std::uint64_t id,
                       std::function<void(std::uint64_t)> on_gone)
    : socket_(std::move(socket)),
      peer_(peer),
      hooks_(hooks),
      options_(options),
      id_(id),
      on_gone_(std::move(on_gone)),
      handshake_timer_(socket_.get_executor()),
      linger_timer_(socket_.get_executor()) {}

BotSession::~BotSession() = default;

void BotSession::start() {
  handshake_timer_.expires_after(options_.handshake_timeout);
  handshake_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->closed_ || self->handshake_.established()) return;
    self->fail(
        proto::errc::kTimeout,
        "no hello within " + std::to_string(self->options_.handshake_timeout.count()) + "ms");
  });
  read();
}

void BotSession::read() {
  socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](
                                                     boost::system::error_code ec, std::size_t n) {
    if (self->closed_ || self->closing_) return;
    if (ec) {
      self->finish(ec == asio::error::eof ? "bot closed the connection"
                                          : "read error: " + ec.message());
      return;
    }
    const bool fits = self->framer_.feedFrames(std::string_view(self->buffer_.data(), n),
                                               [&](const std::string& frame) {
                                                 self->onFrame(frame);
                                                 return !self->closed_ && !self->closing_;
                                               });
    if (!fits) {
      self->fail(proto::errc::kFrameTooLarge, self->framer_.tooLargeMessage());
      return;
    }
    if (!self->closed_ && !self->closing_) self->read();
  });
}

void BotSession::onFrame(const std::string& frame) {
  auto decoded = proto::decode(frame);
  if (!decoded) {
    fail(decoded.error().code, decoded.error().message);
    return;
  }
  if (auto ok = handshake_.accept(*decoded); !ok) {
    // Section 4: an error answering a frame that had an id carries it (a pong before hello,
    // a control request sent by a bot).
    fail(ok.error().code, ok.error().message, proto::idOf(*decoded));
    return;
  }
  onMessage(std::move(decoded.value()));
}

void BotSession::onMessage(proto::Message m) {
  if (auto* hello = std::get_if<proto::Hello>(&m)) {
    handshake_timer_.cancel();
    hello_ = *hello;
    if (hello->role != proto::Role::kBot) {
      fail(proto::errc::kUnexpected,
           "this is the bot socket; control clients use the control socket");
      return;
    }
    auto admission =
        hooks_.on_hello
            ? hooks_.on_hello(shared_from_this(), *hello)
            : Result<SessionHooks::Admission>(Error{proto::errc::kInternal, "no handler"});
    if (!admission) {
      fail(admission.error().code, admission.error().message);
      return;
    }
    name_ = admission->name;
    admitted_ = true;
    proto::Welcome w;
    w.pid = ::getpid();
    w.name = name_;
    w.capabilities = actionNameList(ActionSet::kToBot);  // the table's, then the protocol's own
    w.capabilities.insert(w.capabilities.end(), {"ping", "shutdown"});
    w.stats_interval_ms = admission->stats_interval_ms;
    send(w);
    return;
  }
  if (auto* stats = std::get_if<proto::Stats>(&m)) {
    if (hooks_.on_stats) hooks_.on_stats(shared_from_this(), *stats);
    return;
  }
  if (auto* event = std::get_if<proto::Event>(&m)) {
    if (hooks_.on_event) hooks_.on_event(shared_from_this(), *event);
    return;
  }
  const std::uint64_t id = replyId(m);
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    // A late answer to a request that already timed out: not an error of the bot's making.
    if (hooks_.on_notice) {
      std::string what = proto::typeName(m) + " id=" + std::to_string(id) + " after its deadline";
      if (const auto* ar = std::get_if<proto::ActionResult>(&m)) {
        // Journalled with its measured figures; it does not undo the escalation.
        what = std::string(proto::toString(ar->action)) + " id=" + std::to_string(id) +
               " answered after its deadline: " + (ar->ok ? "ok" : "failed") + ", freed " +
               std::to_string(ar->freed_bytes) + " bytes in " +
               std::to_string(static_cast<std::int64_t>(ar->duration_ms)) + " ms";
      }
      hooks_.on_notice(peer_, "late_reply", what);
    }
    return;
  }
  auto done = std::move(it->second.done);
  it->second.timer->cancel();
  pending_.erase(it);
  if (auto* err = std::get_if<proto::ErrorMsg>(&m)) {
    done(Error{err->code, err->message});
  } else {
    done(std::move(m));
  }
}

std::uint64_t BotSession::request(proto::Message message, std::chrono::milliseconds deadline,
                                  ReplyHandler done) {
  if (closed_ || closing_ || !admitted_) {
    done(Error{proto::errc::kNotConnected, "bot session is not open"});
    return 0;
  }
  const std::uint64_t id = next_id_++;
  assignId(message, id);
  auto timer = std::make_unique<asio::steady_timer>(socket_.get_executor());
  timer->expires_after(deadline + options_.reply_grace);
  timer->async_wait([self = shared_from_this(), id, deadline](boost::system::error_code ec) {
    if (ec) return;
    auto it = self->pending_.find(id);
    if (it == self->pending_.end()) return;
    auto cb = std::move(it->second.done);
    self->pending_.erase(it);
    cb(Error{proto::errc::kTimeout,
             "no answer within the " + std::to_string(deadline.count()) + "ms deadline"});
  });
  pending_.emplace(id, Pending{std::move(timer), std::move(done)});
  send(message);
  return id;
}

void BotSession::send(const proto::Message& m) {
  if (closed_) return;
  if (queue_.size() >= options_.max_queued_frames) {
    if (hooks_.on_notice) {
      hooks_.on_notice(peer_, "overflow", "bot does not read: write queue full, closing");
    }
    finish("write queue full");
    return;
  }
  queue_.push_back(proto::encodeFrame(m));
  if (!writing_) write();
}

void BotSession::write() {
  if (queue_.empty() || closed_) {
    writing_ = false;
    if (closing_ && !closed_) finish(closing_reason_);
    return;
  }
  writing_ = true;
  asio::async_write(socket_, asio::buffer(queue_.front()),
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                      if (self->closed_) return;
                      if (ec) {
                        self->finish("write error: " + ec.message());
                        return;
                      }
                      self->queue_.pop_front();
                      self->write();
                    });
}

void BotSession::fail(const std::string& code, const std::string& message,
                      std::optional<std::uint64_t> id) {
  if (closed_ || closing_) return;
  if (hooks_.on_notice) hooks_.on_notice(peer_, code, message);
  sendErrorAndClose(code, message, id, "protocol error: " + code + ": " + message);
}

void BotSession::closeWithError(const std::string& code, const std::string& message) {
  if (closed_ || closing_) return;
  sendErrorAndClose(code, message, std::nullopt, message);
}

void BotSession::sendErrorAndClose(const std::string& code, const std::string& message,
                                   std::optional<std::uint64_t> id,
                                   const std::string& reason) {
  proto::ErrorMsg err;
  err.id = id;
  err.code = code;
  err.message = message;
  send(err);
  closing_ = true;
  closing_reason_ = reason;
  // The error frame gets a moment to leave; a peer that never reads does not hold us.
  linger_timer_.expires_after(options_.close_linger);
  linger_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->finish(self->closing_reason_);
  });
  if (!writing_) write();
}

void BotSession::close(const std::string& reason) { finish(reason); }

void BotSession::finish(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  socket_.shutdown(Socket::shutdown_both, ec);
  socket_.close(ec);
  handshake_timer_.cancel();
  linger_timer_.cancel();
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) {
    p.timer->cancel();
    p.done(Error{proto::errc::kNotConnected, "bot session closed: " + reason});
  }
  auto self = shared_from_this();  // keep alive through the hooks below
  if (admitted_ && hooks_.on_closed) hooks_.on_closed(self, reason);
  if (on_gone_) on_gone_(id_);
}

}  // namespace memvisor::daemon
