// Implementation notes: one Conn per connection attempt; every async callback captures the
// Impl (shared) and its Conn and returns early when that Conn is closed or no longer
// current, so a reconnect can never be confused by a stale completion.
#include "memvisor/client/client.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>

#include "memvisor/client/memory.hpp"
#include "memvisor/proto/codec.hpp"
#include "memvisor/proto/framer.hpp"

namespace memvisor::client {

namespace asio = boost::asio;
using StreamSocket = asio::local::stream_protocol::socket;
using Clock = std::chrono::steady_clock;

namespace {

struct Conn {
  explicit Conn(asio::io_context& io) : socket(io), write_timer(io), handshake_timer(io) {}
  StreamSocket socket;
  asio::steady_timer write_timer;
  asio::steady_timer handshake_timer;
  proto::Framer framer;
  proto::HandshakeState handshake{proto::HandshakeState::Side::kPeer};
  std::deque<std::string> queue;
  std::size_t queued_bytes = 0;
  bool writing = false;
  bool closed = false;
  bool established = false;
  bool close_after_flush = false;
  std::array<char, 16384> rbuf{};
};

bool isPowerOfTwo(std::uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  Impl(asio::io_context& io_, ClientOptions o)
      : io(io_), opt(std::move(o)), reconnect_timer(io_), stats_timer(io_),
        rng(std::random_device{}()), started_at(Clock::now()) {
    if (opt.socket_path.empty()) {
      if (const char* env = std::getenv("MEMVISOR_SOCKET")) opt.socket_path = env;
    }
    if (opt.pid == 0) opt.pid = ::getpid();
    log = stderrSink;
    figures = [root = opt.proc_root] { return currentFigures(root); };
  }

  asio::io_context& io;
  ClientOptions opt;
  asio::steady_timer reconnect_timer;
  asio::steady_timer stats_timer;
  std::mt19937_64 rng;
  Clock::time_point started_at;

  std::map<proto::Action, ActionHandler> actions;
  ShutdownHandler shutdown_handler;
  PingHandler ping_handler;
  StatsProvider stats_provider;
  FiguresProvider figures;
  LogSink log;

  std::shared_ptr<Conn> conn;
  bool running = false;
  std::uint32_t attempt = 0;
  std::chrono::milliseconds stats_interval{5000};
  bool action_in_flight = false;
  std::uint64_t action_gen = 0;
  ClientCounters counters;

  std::int64_t uptimeMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_at).count();
  }

  void emit(const LogLine& l) {
    if (log) log(l.str());
  }

  // ---- connection lifecycle --------------------------------------------------------------

  void connect() {
    if (!running || conn) return;
    auto c = std::make_shared<Conn>(io);
    conn = c;
    auto self = shared_from_this();
    // One deadline covers connect + hello + welcome: a server that accepts but never
    // answers must not hold the client forever.
    c->handshake_timer.expires_after(opt.handshake_timeout);
    c->handshake_timer.async_wait([self, c](const boost::system::error_code& ec) {
      if (ec || c->closed || c->established) return;
      self->dropConn(c, "no welcome within " + std::to_string(self->opt.handshake_timeout.count()) + "ms");
    });
    c->socket.async_connect(asio::local::stream_protocol::endpoint(opt.socket_path),
                            [self, c](const boost::system::error_code& ec) {
                              if (c->closed) return;
                              if (ec) {
                                ++self->counters.connect_failures;
                                self->dropConn(c, "connect: " + ec.message());
                                return;
                              }
                              self->onConnected(c);
                            });
  }

  void onConnected(const std::shared_ptr<Conn>& c) {
    proto::Hello hello;
    hello.role = proto::Role::kBot;
    hello.pid = opt.pid;
    hello.name = opt.name;
    for (const auto& [action, handler] : actions) hello.capabilities.push_back(proto::toString(action));
    hello.capabilities.emplace_back("stats");
    hello.capabilities.emplace_back("events");
    if (shutdown_handler) hello.capabilities.emplace_back("shutdown");
    enqueue(c, proto::encodeFrame(hello), false);
    startRead(c);
  }

  // Closes `c`; if it was the current connection, schedules a reconnect (unless stopped).
  void dropConn(const std::shared_ptr<Conn>& c, const std::string& reason) {
    if (c->closed) return;
    c->closed = true;
    boost::system::error_code ignored;
    c->socket.close(ignored);
    c->write_timer.cancel();
    c->handshake_timer.cancel();
    if (c != conn) return;
    conn.reset();
    stats_timer.cancel();
    // A pending action's reply has nowhere to go now; let the next connection run actions.
    action_in_flight = false;
    ++action_gen;
    if (c->established) {
      ++counters.disconnects;
      emit(LogLine("warn", "memvisor_disconnected").kv("socket", opt.socket_path).kv("reason", reason));
    } else if (isPowerOfTwo(counters.connect_failures + counters.disconnects + 1) || attempt == 0) {
      // Absent memvisord is normal (standalone runs): log sparsely, not every retry.
      emit(LogLine("info", "memvisor_connect_failed").kv("socket", opt.socket_path).kv("reason", reason)
               .kv("attempt", static_cast<std::int64_t>(attempt)));
    }
    if (c->established) attempt = 0;
    scheduleReconnect();
  }

  void scheduleReconnect() {
    if (!running) return;
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    const auto delay = backoffDelay(opt.backoff, attempt, u);
    if (attempt < 64) ++attempt;
    reconnect_timer.expires_after(delay);
    auto self = shared_from_this();
    reconnect_timer.async_wait([self](const boost::system::error_code& ec) {
      if (ec) return;
      self->connect();
    });
  }

  // ---- reading ---------------------------------------------------------------------------

  void startRead(const std::shared_ptr<Conn>& c) {
    auto self = shared_from_this();
    c->socket.async_read_some(asio::buffer(c->rbuf), [self, c](const boost::system::error_code& ec,
                                                                std::size_t n) {
      if (c->closed) return;
      if (ec) {
        self->dropConn(c, ec == asio::error::eof ? std::string("server closed the connection")
                                                 : "read: " + ec.message());
        return;
      }
      if (c->close_after_flush) return;  // no more frames, no more reads
      bool bad_frame = false;
      const bool fits = c->framer.feedFrames(std::string_view(c->rbuf.data(), n), [&](const std::string& frame) {
        auto m = proto::decode(frame);
        if (!m) {
          self->protocolError(c, m.error().code, m.error().message);
          bad_frame = true;
          return false;
        }
        self->handle(c, *m);
        return !c->closed && !c->close_after_flush;
      });
      if (!fits) {
        self->protocolError(c, proto::errc::kFrameTooLarge, c->framer.tooLargeMessage());
        return;
      }
      if (bad_frame) return;
      if (!c->closed && !c->close_after_flush) self->startRead(c);
    });
  }

  // A server that sends garbage is a server we cannot trust to frame anything else: tell it
  // why (best effort), close, reconnect.
  void protocolError(const std::shared_ptr<Conn>& c, const std::string& code, const std::string& message) {
    ++counters.malformed_frames;
    emit(LogLine("error", "memvisor_protocol_error").kv("code", code).kv("message", message));
    proto::ErrorMsg err;
    err.code = code;
    err.message = message;
    c->close_after_flush = true;
    enqueue(c, proto::encodeFrame(err), false);
    if (!c->writing) dropConn(c, "protocol error: " + code);
  }

  void handle(const std::shared_ptr<Conn>& c, const proto::Message& m) {
    if (auto ok = c->handshake.accept(m); !ok) {
      protocolError(c, ok.error().code, ok.error().message);
      return;
    }
    std::visit([&](const auto& msg) { on(c, msg); }, m);
  }

  void on(const std::shared_ptr<Conn>& c, const proto::Welcome& w) {
    if (auto err = proto::checkVersion(w.version)) {
      emit(LogLine("error", "memvisor_incompatible").kv("message", err->message));
      c->close_after_flush = true;
      enqueue(c, proto::encodeFrame(*err), false);
      if (!c->writing) dropConn(c, "incompatible version");
      return;
    }
    c->established = true;
    c->handshake_timer.cancel();
    attempt = 0;
    ++counters.connects;
    stats_interval = std::chrono::milliseconds(std::clamp<std::int64_t>(w.stats_interval_ms, 100, 3600000));
    emit(LogLine("info", "memvisor_connected").kv("socket", opt.socket_path).kv("name", w.name)
             .kv("memvisord_pid", static_cast<std::int64_t>(w.pid))
             .kv("stats_interval_ms", static_cast<std::int64_t>(stats_interval.count())));
    sendStats();
  }

  void on(const std::shared_ptr<Conn>& c, const proto::ErrorMsg& e) {
    if (e.id && c->established) {
      emit(LogLine("warn", "memvisor_error").kv("id", *e.id).kv("code", e.code).kv("message", e.message));
      return;
    }
    // Connection-level (or a refused hello): the server is closing on us anyway.
    emit(LogLine("error", "memvisor_refused").kv("code", e.code).kv("message", e.message));
    dropConn(c, "server error " + e.code);
  }

  void on(const std::shared_ptr<Conn>& c, const proto::Ping& p) {
    if (ping_handler && !ping_handler(p)) return;
    if (c->closed) return;
    proto::Pong pong;
    pong.id = p.id;
    pong.uptime_ms = uptimeMs();
    enqueue(c, proto::encodeFrame(pong), false);
  }

  void on(const std::shared_ptr<Conn>& c, const proto::Shutdown& s) {
    if (!shutdown_handler) {
      sendError(c, s.id, proto::errc::kActionFailed, "bot has no shutdown handler");
      return;
    }
    emit(LogLine("info", "memvisor_shutdown_requested").kv("id", s.id).kv("reason", s.reason)
             .kv("deadline_ms", static_cast<std::int64_t>(s.deadline_ms)));
    auto answered = std::make_shared<bool>(false);
    std::weak_ptr<Impl> weak = shared_from_this();
    shutdown_handler(s, [weak, c, id = s.id, answered](bool accepted) {
      auto self = weak.lock();
      if (!self || *answered || c->closed) return;
      *answered = true;
      if (accepted) {
        proto::Ack ack;
        ack.id = id;
        ack.message = "shutting down";
        self->enqueue(c, proto::encodeFrame(ack), false);
      } else {
        self->sendError(c, id, proto::errc::kActionFailed, "bot refused to shut down");
      }
    });
  }

  void on(const std::shared_ptr<Conn>& c, const proto::ActionRequest& req) {
    ++counters.actions;
    auto it = actions.find(req.action);
    if (it == actions.end()) {
      sendError(c, req.id, proto::errc::kActionFailed,
                std::string("bot has no ") + proto::toString(req.action) + " handler");
      return;
    }
    if (action_in_flight) {
      sendError(c, req.id, proto::errc::kBusy, "another action is still running");
      return;
    }
    action_in_flight = true;
    const std::uint64_t gen = ++action_gen;
    const proto::MemFigures before = figures();
    const auto t0 = Clock::now();
    auto finished = std::make_shared<bool>(false);
    std::weak_ptr<Impl> weak = shared_from_this();
    ActionDone done = [weak, c, req, before, t0, gen, finished](ActionOutcome out) {
      auto self = weak.lock();
      if (!self || *finished) return;
      *finished = true;
      self->finishAction(c, req, before, t0, gen, std::move(out));
    };
    it->second(req, std::move(done));
  }

  void finishAction(const std::shared_ptr<Conn>& c, const proto::ActionRequest& req,
                    const proto::MemFigures& before, Clock::time_point t0, std::uint64_t gen,
                    ActionOutcome out) {
    if (gen == action_gen) action_in_flight = false;
    proto::ActionResult r;
    r.id = req.id;
    r.action = req.action;
    r.ok = out.ok;
    r.error = out.ok ? std::string() : out.error;
    r.before = before;
    r.after = figures();
    r.duration_ms = msSince(t0);
    r.late = r.duration_ms > static_cast<double>(req.deadline_ms);
    if (r.before.rss_bytes && r.after.rss_bytes) r.freed_bytes = *r.before.rss_bytes - *r.after.rss_bytes;
    r.details = std::move(out.details);
    if (r.before.heap_used_bytes && r.after.heap_used_bytes) {
      r.heap_freed_bytes = *r.before.heap_used_bytes - *r.after.heap_used_bytes;
    }
    if (req.target_bytes) r.target_met = r.ok && r.freed_bytes >= *req.target_bytes;
    if (r.late) ++counters.late_replies;
    LogLine line(r.ok ? "info" : "warn", "memvisor_action");
    line.kv("action", proto::toString(req.action)).kv("id", req.id).kv("urgency", proto::toString(req.urgency))
        .kv("ok", r.ok).kv("freed_bytes", r.freed_bytes).kv("duration_ms", r.duration_ms)
        .kv("target_bytes", req.target_bytes ? std::to_string(*req.target_bytes) : std::string("-"))
        .kv("deadline_ms", static_cast<std::int64_t>(req.deadline_ms)).kv("late", r.late);
    if (c->closed || c != conn) {
      emit(line.kv("reply", "dropped (connection gone)"));
      return;
    }
    emit(line);
    enqueue(c, proto::encodeFrame(r), false);
  }

  template <typename T>
  void on(const std::shared_ptr<Conn>&, const T& msg) {
    emit(LogLine("warn", "memvisor_unexpected_message").kv("type", proto::typeName(proto::Message(msg))));
  }

  void sendError(const std::shared_ptr<Conn>& c, std::uint64_t id, const char* code, const std::string& message) {
    proto::ErrorMsg e;
    e.id = id;
    e.code = code;
    e.message = message;
    enqueue(c, proto::encodeFrame(e), false);
  }

  // ---- writing ---------------------------------------------------------------------------

  // Replies are never dropped silently: if the queue is full the server is not reading, and
  // the connection is dropped (it will be re-established). Stats are droppable.
  void enqueue(const std::shared_ptr<Conn>& c, std::string frame, bool droppable) {
    if (c->closed) return;
    if (c->queued_bytes + frame.size() > opt.max_queued_bytes) {
      if (droppable) {
        ++counters.stats_dropped;
        return;
      }
      dropConn(c, "write queue full (server not reading)");
      return;
    }
    c->queued_bytes += frame.size();
    c->queue.push_back(std::move(frame));
    if (!c->writing) startWrite(c);
  }

  void startWrite(const std::shared_ptr<Conn>& c) {
    c->writing = true;
    auto self = shared_from_this();
    c->write_timer.expires_after(opt.write_timeout);
    c->write_timer.async_wait([self, c](const boost::system::error_code& ec) {
      if (ec || c->closed || !c->writing) return;
      self->dropConn(c, "write timeout");
    });
    asio::async_write(c->socket, asio::buffer(c->queue.front()),
                      [self, c](const boost::system::error_code& ec, std::size_t) {
                        if (c->closed) return;
                        c->writing = false;
                        c->write_timer.cancel();
                        if (ec) {
                          self->dropConn(c, "write: " + ec.message());
                          return;
                        }
                        c->queued_bytes -= c->queue.front().size();
                        c->queue.pop_front();
                        if (!c->queue.empty()) {
                          self->startWrite(c);
                        } else if (c->close_after_flush) {
                          self->dropConn(c, "closed after protocol error");
                        }
                      });
  }

  // ---- stats -----------------------------------------------------------------------------

  void sendStats() {
    auto c = conn;
    if (!c || !c->established || c->closed) return;
    proto::Stats s;
    if (stats_provider) {
      s = stats_provider();
    } else {
      s.mem = figures();
    }
    if (!s.uptime_ms) s.uptime_ms = uptimeMs();
    if (c->closed) return;
    const auto before = counters.stats_dropped;
    enqueue(c, proto::encodeFrame(s), true);
    if (counters.stats_dropped == before) ++counters.stats_sent;
    stats_timer.expires_after(stats_interval);
    auto self = shared_from_this();
    stats_timer.async_wait([self, c](const boost::system::error_code& ec) {
      if (ec || c != self->conn) return;
      self->sendStats();
    });
  }
};

// ---- public API ----------------------------------------------------------------------------

ActionHandler syncHandler(SyncActionHandler fn) {
  return [fn = std::move(fn)](const proto::ActionRequest& req, ActionDone done) { done(fn(req)); };
}

ActionHandler defaultTrimHandler(std::string proc_root) {
  return syncHandler([root = std::move(proc_root)](const proto::ActionRequest&) {
    ActionOutcome out;
    const auto before = readRssBytes(root, "self");
    trimHeap();
    const auto after = readRssBytes(root, "self");
    proto::CacheDetail d;
    d.name = "malloc_trim";
    if (before && after) d.freed_bytes = *before - *after;
    out.details.push_back(d);
    return out;
  });
}

Client::Client(boost::asio::io_context& io, ClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {
  impl_->actions[proto::Action::kTrim] = defaultTrimHandler(impl_->opt.proc_root);
}

Client::~Client() { stop(); }

void Client::onAction(proto::Action action, ActionHandler handler) {
  if (handler) {
    impl_->actions[action] = std::move(handler);
  } else {
    impl_->actions.erase(action);
  }
}
void Client::onShutdown(ShutdownHandler handler) { impl_->shutdown_handler = std::move(handler); }
void Client::onPing(PingHandler handler) { impl_->ping_handler = std::move(handler); }
void Client::setStatsProvider(StatsProvider provider) { impl_->stats_provider = std::move(provider); }
void Client::setFiguresProvider(FiguresProvider provider) {
  if (provider) impl_->figures = std::move(provider);
}
void Client::setLogSink(LogSink sink) { impl_->log = std::move(sink); }

void Client::start() {
  if (impl_->running) return;
  if (impl_->opt.socket_path.empty()) {
    impl_->emit(LogLine("info", "memvisor_disabled").kv("reason", "no socket path (MEMVISOR_SOCKET unset)"));
    return;
  }
  impl_->running = true;
  auto impl = impl_;
  boost::asio::post(impl_->io, [impl] { impl->connect(); });
}

void Client::stop() {
  if (!impl_->running) return;
  impl_->running = false;
  impl_->reconnect_timer.cancel();
  impl_->stats_timer.cancel();
  if (auto c = impl_->conn) impl_->dropConn(c, "client stopped");
}

bool Client::connected() const { return impl_->conn && impl_->conn->established && !impl_->conn->closed; }
std::string Client::socketPath() const { return impl_->opt.socket_path; }
ClientCounters Client::counters() const { return impl_->counters; }

void Client::sendEvent(proto::Event event) {
  auto c = impl_->conn;
  if (!c || !c->established) return;
  impl_->enqueue(c, proto::encodeFrame(event), true);
}

}  // namespace memvisor::client
