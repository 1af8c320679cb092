#include "session.hpp"

#include <unistd.h>

#include <algorithm>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "memvisor/proto/parts.hpp"

namespace memvisor::control {

namespace asio = boost::asio;

namespace {

// Backlog entries are pulled into the queue only while it holds less than this, so a large
// backlog never counts against the slow-subscriber bound.
constexpr std::size_t kLowWater = 64 * 1024;

}  // namespace

Session::Session(ControlServer& server, std::uint64_t id,
                 asio::local::stream_protocol::socket socket, PeerCred peer)
    : server_(&server),
      id_(id),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      peer_(std::move(peer)) {}

void Session::start() {
  armTimer(server_->options_.handshake_timeout);
  read();
}

void Session::refuse(const std::string& code, const std::string& message) {
  enqueue(proto::encodeFrame(proto::ErrorMsg{std::nullopt, code, message}), false);
  closing_ = true;
  armTimer(server_->options_.refusal_linger);
  if (!writing_) close();
}

void Session::stopFromServer() {
  if (sub_token_ != 0) server_->journal_.unsubscribe(sub_token_);
  sub_token_ = 0;
  server_ = nullptr;
  close();
}

bool Session::idle() const {
  const bool following = subscribed_ && sub_token_ != 0;
  return !closed_ && !closing_ && pending_ == 0 && !following && queue_.empty();
}

void Session::read() {
  socket_.async_read_some(
      asio::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        if (self->closed_ || self->closing_) return;
        if (ec) {  // EOF or reset: the client went away
          self->close();
          return;
        }
        const bool fits = self->framer_.feedFrames(std::string_view(self->buf_.data(), n),
                                                   [&](const std::string& frame) {
                                                     self->onFrame(frame);
                                                     return !self->closed_ && !self->closing_;
                                                   });
        if (!fits) {
          self->fail(proto::errc::kFrameTooLarge, self->framer_.tooLargeMessage(), std::nullopt);
          return;
        }
        if (!self->closed_ && !self->closing_) self->read();
      });
}

void Session::onFrame(const std::string& frame) {
  last_active_ = std::chrono::steady_clock::now();
  auto decoded = proto::decode(frame);
  if (!decoded) {
    fail(decoded.error().code, decoded.error().message, std::nullopt);
    return;
  }
  proto::Message m = std::move(decoded).value();
  const bool was_established = handshake_.established();
  if (auto ok = handshake_.accept(m); !ok) {
    fail(ok.error().code, ok.error().message, proto::idOf(m));
    return;
  }
  if (!was_established) {
    const auto* hello = std::get_if<proto::Hello>(&m);
    if (hello == nullptr || hello->role != proto::Role::kControl) {
      fail(proto::errc::kUnexpected,
           "this is memvisord's control socket: send hello with role \"control\" (bots "
           "connect to the bot socket)",
           std::nullopt);
      return;
    }
    if (auto bad = proto::checkVersion(hello->version)) {
      fail(bad->code, bad->message, std::nullopt);
      return;
    }
    const auto& caps = hello->capabilities;
    parts_ = std::find(caps.begin(), caps.end(), proto::cap::kParts) != caps.end();
    proto::Welcome w;
    w.pid = ::getpid();
    w.name = hello->name;
    w.capabilities = {"status", "run",       "lifecycle",      "limit",
                      "reload", "subscribe", proto::cap::kParts};
    enqueue(proto::encodeFrame(w), false);
    armTimer(server_->options_.idle_timeout);
    return;
  }
  armTimer(server_->options_.idle_timeout);
  dispatch(std::move(m));
}

void Session::dispatch(proto::Message m) {
  if (const auto* s = std::get_if<proto::Subscribe>(&m)) {
    subscribe(*s);
    return;
  }
  if (std::holds_alternative<proto::ErrorMsg>(m)) {
    // Section 6 lets a control peer send `error`; memvisord sends it no requests, so the id
    // matches nothing and section 4 says such a reply is ignored.
    return;
  }
  auto request = proto::controlRequestOf(m);
  if (!request) {
    fail(proto::errc::kUnexpected, "\"" + proto::typeName(m) + "\" is not a control request",
         proto::idOf(m));
    return;
  }
  ++pending_;
  std::weak_ptr<Session> weak = weak_from_this();
  server_->backend_.handle(*request, [weak](proto::Message result) {
    if (auto self = weak.lock()) self->reply(std::move(result));
  });
}

void Session::reply(proto::Message m) {
  if (pending_ > 0) --pending_;
  if (closed_ || closing_) return;
  last_active_ = std::chrono::steady_clock::now();
  // An answer larger than a frame goes in parts to a client that can reassemble them, all
  // queued here at once so that nothing comes between them (PROTOCOL.md 7.6); a 1.0 client
  // gets a too_large error that tells it how to ask for less, and keeps its connection.
  auto frames = proto::encodeParts(m);
  if (frames && (frames->size() == 1 || parts_)) {
    for (auto& f : *frames) enqueue(std::move(f), false);
  } else {
    const std::size_t bytes = proto::encode(m).size();
    std::string message =
        proto::typeName(m) + " is " + std::to_string(bytes) + " bytes, over the frame limit of " +
        std::to_string(proto::kMaxFrameBytes) +
        (frames ? ": ask for fewer bots (status BOT...), or announce capability \"parts\" "
                  "(protocol 1.1) to receive it in several frames"
                : ": " + frames.error().message);
    enqueue(proto::encodeFrame(
                proto::ErrorMsg{proto::idOf(m), proto::errc::kTooLarge, std::move(message)}),
            false);
  }
  armTimer(server_->options_.idle_timeout);
}

void Session::subscribe(const proto::Subscribe& s) {
  if (subscribed_) {
    enqueue(proto::encodeFrame(proto::ErrorMsg{s.id, proto::errc::kBusy,
                                               "this connection already has a subscription"}),
            false);
    return;
  }
  if (s.bot) {
    if (auto known = server_->backend_.checkBot(*s.bot); !known) {
      enqueue(proto::encodeFrame(
                  proto::ErrorMsg{s.id, known.error().code, known.error().message}),
              false);
      return;
    }
  }
  subscribed_ = true;
  sub_bot_ = s.bot;
  sub_id_ = s.id;
  if (s.since_ms) {
    const auto& now = server_->options_.now_ms;
    const std::int64_t from = now() - *s.since_ms;
    backlog_ = server_->journal_.since(from, s.bot);
  }
  if (s.follow) {
    // Subscribed in the same turn as since(): no entry can fall between the two.
    std::weak_ptr<Session> weak = weak_from_this();
    sub_token_ = server_->journal_.subscribe([weak](const proto::JournalEntry& e) {
      if (auto self = weak.lock()) self->onLive(e);
    });
  }
  pump();
}

void Session::onLive(const proto::JournalEntry& e) {
  if (closed_ || closing_) return;
  if (sub_bot_ && e.bot != *sub_bot_) return;
  std::string frame = proto::encodeFrame(e);
  const std::size_t max = server_->options_.max_queued_bytes;
  if (!acked_) {
    if (live_pending_bytes_ + frame.size() > max) {
      drop(Notice::Kind::kSlowSubscriberDropped, "live entries outran the backlog");
      return;
    }
    live_pending_bytes_ += frame.size();
    live_pending_.push_back(std::move(frame));
    return;
  }
  if (!enqueue(std::move(frame), true)) {
    drop(Notice::Kind::kSlowSubscriberDropped,
         "subscriber reads too slowly: " + std::to_string(queued_bytes_) + " bytes queued, limit " +
             std::to_string(max));
  }
}

void Session::pump() {
  if (!subscribed_ || acked_) return;
  while (backlog_pos_ < backlog_.size() && queued_bytes_ < kLowWater) {
    enqueue(proto::encodeFrame(backlog_[backlog_pos_++]), false);
  }
  if (backlog_pos_ < backlog_.size()) return;
  backlog_.clear();
  backlog_.shrink_to_fit();
  enqueue(proto::encodeFrame(proto::Ack{sub_id_, ""}), false);
  acked_ = true;
  for (auto& f : live_pending_) enqueue(std::move(f), false);
  live_pending_.clear();
  live_pending_bytes_ = 0;
}

bool Session::enqueue(std::string frame, bool bounded) {
  if (closed_) return false;
  if (bounded && queued_bytes_ + frame.size() > server_->options_.max_queued_bytes) return false;
  queued_bytes_ += frame.size();
  queue_.push_back(std::move(frame));
  if (!writing_) write();
  return true;
}

void Session::write() {
  writing_ = true;
  asio::async_write(socket_, asio::buffer(queue_.front()),
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (self->closed_) return;
                      if (ec) {
                        self->close();
                        return;
                      }
                      self->queued_bytes_ -= self->queue_.front().size();
                      self->queue_.pop_front();
                      self->pump();
                      if (self->closed_) return;
                      if (!self->queue_.empty()) {
                        if (!self->writing_) self->write();
                      } else if (self->closing_) {
                        self->close();
                      }
                    });
}

void Session::armTimer(std::chrono::milliseconds d) {
  timer_.expires_after(d);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec == asio::error::operation_aborted || self->closed_) return;
    self->onTimer();
  });
}

void Session::onTimer() {
  if (closing_) {  // refusal or error not delivered in time
    close();
    return;
  }
  if (!handshake_.established()) {
    fail(proto::errc::kTimeout, "no hello within the handshake timeout", std::nullopt);
    return;
  }
  const bool following = subscribed_ && sub_token_ != 0;
  if (pending_ > 0 || following || !queue_.empty()) {
    armTimer(server_ ? server_->options_.idle_timeout : std::chrono::milliseconds(1000));
    return;
  }
  // Idle (section 5): say so, so that a client can tell this from a crash, then close.
  refuse(proto::errc::kTimeout,
         "idle for " + std::to_string(server_ ? server_->options_.idle_timeout.count() : 0) +
             " ms with no request running: closed (connect again when needed)");
}

void Session::fail(const std::string& code, const std::string& message,
                   std::optional<std::uint64_t> id) {
  if (closed_ || closing_) return;
  if (server_) {
    server_->notify(Notice{Notice::Kind::kProtocolError, peer_, code + ": " + message});
  }
  enqueue(proto::encodeFrame(proto::ErrorMsg{id, code, message}), false);
  closing_ = true;
  if (server_) armTimer(server_->options_.refusal_linger);
  if (!writing_) close();
}

void Session::drop(Notice::Kind kind, const std::string& message) {
  if (server_) server_->notify(Notice{kind, peer_, message});
  closing_ = true;
  // Deferred: we may be inside Journal::record()'s listener loop, which must not see its
  // listener map change under it.
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  socket_.shutdown(asio::local::stream_protocol::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (server_ != nullptr) {
    if (sub_token_ != 0) server_->journal_.unsubscribe(sub_token_);
    sub_token_ = 0;
    auto* server = server_;
    server_ = nullptr;
    server->remove(id_);  // may release the last owner; `this` is kept alive by the caller
  }
}

}  // namespace memvisor::control
