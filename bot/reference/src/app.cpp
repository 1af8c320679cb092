#include "app.hpp"

#include <malloc.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <optional>

#include "actions.hpp"
#include "bot_state.hpp"
#include "gateway.hpp"
#include "memvisor/client/client.hpp"
#include "memvisor/client/logfmt.hpp"
#include "memvisor/client/memory.hpp"
#include "workload.hpp"

namespace memvisor::bot {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using client::LogLine;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kTick{10};
constexpr milliseconds kOptimizerCheck{5000};
constexpr milliseconds kOptimizerCooldown{60000};
constexpr milliseconds kShutdownFlush{100};
// Catch-up bound after a stall: keeps one tick's allocation small, so RSS read around a
// command moves by at most a few MB (the integration test relies on this).
constexpr double kMaxCatchUpS = 0.02;

milliseconds secondsMs(double s) { return milliseconds(static_cast<std::int64_t>(s * 1000.0)); }

CacheLimits limitsFor(const AppOptions& o) {
  if (o.work.bloat) return CacheLimits::unlimited();
  CacheLimits l;
  l.messages = static_cast<std::size_t>(o.bot.messages_limit);
  l.members = static_cast<std::size_t>(o.bot.members_limit);
  l.threads = static_cast<std::size_t>(o.bot.threads_limit);
  l.presences = static_cast<std::size_t>(o.bot.presences_limit);
  l.reactions = static_cast<std::size_t>(o.bot.reactions_limit);
  l.invites = static_cast<std::size_t>(o.bot.invites_limit);
  return l;
}

void log(const LogLine& l) { client::stderrSink(l.str()); }

}  // namespace

struct App::Impl {
  Impl(asio::io_context& io_, AppOptions o)
      : io(io_), opt(std::move(o)), state(static_cast<std::size_t>(opt.work.guilds),
                                          static_cast<std::size_t>(opt.work.channels_per_guild), limitsFor(opt),
                                          opt.work.layout),
        gateway(opt.work, opt.work.seed), signals(io_, SIGINT, SIGTERM), measure(processMeasure()),
        client(io_, client::ClientOptions{opt.socket_path, opt.name}), started(Clock::now()) {}

  asio::io_context& io;
  AppOptions opt;
  BotState state;
  SyntheticGateway gateway;
  asio::signal_set signals;
  std::deque<asio::steady_timer> timers;  // stable addresses; all cancelled on stop
  Measure measure;
  client::Client client;
  Leak leak;
  Spike spike;
  Fragmenter fragmenter;
  Clock::time_point started;
  Clock::time_point last_tick;
  Clock::time_point tick_deadline;
  double carry = 0;
  bool stopping = false;
  bool hang_armed = false;
  // Event-loop delay: how late the 10 ms tick fires, averaged since the last read.
  double lag_sum_ms = 0;
  std::int64_t lag_samples = 0;
  double lag_last_mean_ms = 0;
  std::optional<Clock::time_point> last_optimizer;

  std::int64_t nowMs() const {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - started).count();
  }

  asio::steady_timer& newTimer() { return timers.emplace_back(io); }

  void every(asio::steady_timer& t, milliseconds period, std::function<void()> fn) {
    t.expires_after(period);
    t.async_wait([this, &t, period, fn = std::move(fn)](const boost::system::error_code& ec) mutable {
      if (ec || stopping) return;
      fn();
      every(t, period, std::move(fn));
    });
  }

  void after(milliseconds delay, std::function<void()> fn) {
    auto& t = newTimer();
    t.expires_after(delay);
    t.async_wait([this, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      fn();
    });
  }

  double takeLag() {
    if (lag_samples > 0) lag_last_mean_ms = lag_sum_ms / static_cast<double>(lag_samples);
    lag_sum_ms = 0;
    lag_samples = 0;
    return lag_last_mean_ms;
  }

  // ---- gateway -------------------------------------------------------------------------

  void scheduleTick() {
    tick_deadline += kTick;
    tick_timer->expires_at(tick_deadline);
    tick_timer->async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      const auto now = Clock::now();
      lag_sum_ms += std::chrono::duration<double, std::milli>(now - tick_deadline).count();
      ++lag_samples;
      const double elapsed = std::chrono::duration<double>(now - last_tick).count();
      last_tick = now;
      // After a stall (a blocking action) catch up at most 20 ms worth of events, as
      // a gateway that drops what it could not deliver.
      double due = carry + opt.work.rate * std::min(elapsed, kMaxCatchUpS);
      const auto n = static_cast<std::int64_t>(due);
      carry = due - static_cast<double>(n);
      const std::int64_t now_ms = nowMs();
      for (std::int64_t i = 0; i < n; ++i) gateway.step(state, now_ms);
      if (now - tick_deadline > milliseconds(200)) tick_deadline = now;  // don't replay missed ticks
      scheduleTick();
    });
  }
  asio::steady_timer* tick_timer = nullptr;

  // ---- figures and logs ----------------------------------------------------------------

  // glibc's figures plus the payload arena, which malloc does not see: ext = the arena's
  // mapped segments (like Node's "external": memory outside the heap proper).
  proto::MemFigures figures() const {
    auto f = client::currentFigures();
    f.external_bytes = state.arena().mappedBytes();
    return f;
  }

  proto::Stats stats() {
    proto::Stats s;
    s.mem = figures();
    s.event_loop_lag_ms = lag_last_mean_ms;
    s.caches = state.counts();
    s.uptime_ms = nowMs();
    return s;
  }

  void memoryLine() {
    const auto f = figures();
    const double lag = takeLag();
    char lagbuf[32];
    std::snprintf(lagbuf, sizeof lagbuf, "%.2fms", lag);
    // The seed's monitor line, verbatim after the logfmt prefix.
    log(LogLine("info", "mem").raw("[MEM] rss=" + client::formatMb(f.rss_bytes.value_or(0)) +
                                   " heapUsed=" + client::formatMb(f.heap_used_bytes.value_or(0)) +
                                   " heapTotal=" + client::formatMb(f.heap_total_bytes.value_or(0)) +
                                   " ext=" + client::formatMb(f.external_bytes.value_or(0)) + " evLoopDelay=" + lagbuf));
    const std::int64_t used = f.heap_used_bytes.value_or(0) + f.external_bytes.value_or(0);
    const std::int64_t limit = opt.bot.memory_limit_mb << 20;
    if (used * 10 > limit * 8) {
      log(LogLine("warn", "mem_alert").kv("heapUsed", client::formatMb(used)).kv("limit", client::formatMb(limit))
              .kv("pct", 100.0 * static_cast<double>(used) / static_cast<double>(limit), 1));
    }
  }

  void progressLine() {
    const auto f = figures();
    LogLine l("info", "progress");
    l.kv("events", gateway.events()).kv("messages_created", gateway.messages())
        .kv("rss", client::formatMb(f.rss_bytes.value_or(0))).kv("evictions", state.evictions());
    for (const auto& [name, n] : state.counts()) l.kv(name, n);
    if (leak.bytes() > 0) l.kv("leaked", client::formatMb(leak.bytes()));
    l.kv("memvisor", client.connected() ? "connected" : "disconnected");
    log(l);
  }

  void optimizerRun(const char* trigger) {
    last_optimizer = Clock::now();
    const auto t0 = Clock::now();
    const std::int64_t before = measure.rss();
    measure.trim();
    const std::int64_t freed = before - measure.rss();
    // The seed: "GC threshold: liberó 23.1MB en 4ms".
    log(LogLine("info", "optimizer").kv("trigger", trigger).kv("freed", client::formatMb(freed))
            .kv("duration_ms", std::chrono::duration<double, std::milli>(Clock::now() - t0).count()));
  }

  // ---- commands from memvisord ------------------------------------------------------------

  [[noreturn]] void hangForever(const char* why) {
    log(LogLine("warn", "hang").kv("trigger", why).kv("note", "event loop blocked; only SIGKILL ends this process"));
    for (;;) ::pause();
  }

  // Returns true when the command is to be carried out (not hung, not ignored).
  bool obey(const char* what) {
    if (opt.work.hang && hang_armed) hangForever(what);
    if (opt.work.ignore_commands) {
      log(LogLine("info", "command_ignored").kv("command", what));
      return false;
    }
    return true;
  }

  void registerHandlers() {
    client.onAction(proto::Action::kTrim, [this](const proto::ActionRequest&, client::ActionDone done) {
      if (obey("trim")) done(runTrim(measure));
    });
    client.onAction(proto::Action::kSweep, [this](const proto::ActionRequest& r, client::ActionDone done) {
      if (!obey("sweep")) return;
      auto out = r.target_bytes ? runToTarget(state, *r.target_bytes, 0.0, measure)
                                : runSweep(state, opt.bot, r.urgency, nowMs(), measure);
      logAction("sweep", proto::toString(r.urgency), out);
      done(std::move(out));
    });
    client.onAction(proto::Action::kCompact, [this](const proto::ActionRequest& r, client::ActionDone done) {
      if (!obey("compact")) return;
      // With a target, keep the newest half instead of emptying every cache.
      auto out = r.target_bytes ? runToTarget(state, *r.target_bytes, 0.5, measure) : runCompact(state, measure);
      logAction("compact", "-", out);
      done(std::move(out));
    });
    client.onPing([this](const proto::Ping&) {
      if (opt.work.hang && hang_armed) hangForever("ping");
      return true;
    });
    client.onShutdown([this](const proto::Shutdown& s, client::ShutdownAccept accept) {
      if (!obey("shutdown")) return;
      accept(true);
      stop("memvisord shutdown: " + s.reason);
    });
    client.setStatsProvider([this] { return stats(); });
    client.setFiguresProvider([this] { return figures(); });
  }

  void logAction(const char* action, const char* urgency, const client::ActionOutcome& out) {
    LogLine l("info", "cache_action");
    l.kv("action", action).kv("urgency", urgency);
    for (const auto& d : out.details) {
      l.kv(d.name + "_freed", client::formatMb(d.freed_bytes));
      if (d.entries_before && d.entries_after) l.kv(d.name + "_entries", std::to_string(*d.entries_before) + "->" + std::to_string(*d.entries_after));
    }
    log(l);
  }

  // ---- lifecycle -------------------------------------------------------------------------

  void start() {
    const auto& w = opt.work;
    LogLine l("info", "start");
    l.kv("pid", static_cast<std::int64_t>(::getpid())).kv("name", opt.name).kv("profile", opt.bot.profile)
        .kv("socket", client.socketPath().empty() ? std::string("none") : client.socketPath())
        .kv("rate", w.rate, 1).kv("guilds", w.guilds).kv("channels", static_cast<std::int64_t>(state.channels()))
        .kv("bloat", w.bloat).kv("payload_layout", w.layout == PayloadLayout::kSegments ? "segments" : "heap").kv("messages_limit", opt.bot.messages_limit).kv("members_limit", opt.bot.members_limit)
        .kv("sweep_interval_s", opt.bot.sweep_messages_interval_s).kv("sweep_lifetime_s", opt.bot.sweep_messages_lifetime_s)
        .kv("monitor_s", opt.bot.memory_log_interval_s).kv("optimizer", opt.bot.optimizer);
    log(l);

    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      stop(sig == SIGINT ? "SIGINT" : "SIGTERM");
    });

    if (w.fragment) {
      const std::int64_t before = measure.rss();
      fragmenter.build(w.fragment_bytes, w.fragment_block);
      log(LogLine("info", "fragment_built").kv("bytes", w.fragment_bytes).kv("block", w.fragment_block)
              .kv("pins", fragmenter.pins()).kv("rss_before", client::formatMb(before))
              .kv("rss_after", client::formatMb(measure.rss())));
    }

    tick_timer = &newTimer();
    last_tick = tick_deadline = Clock::now();
    scheduleTick();

    if (!w.bloat) {
      every(newTimer(), secondsMs(static_cast<double>(opt.bot.sweep_messages_interval_s)), [this] {
        const auto n = state.sweepMessages(nowMs(), opt.bot.sweep_messages_lifetime_s * 1000);
        log(LogLine("info", "sweep").kv("cache", kMessages).kv("removed", static_cast<std::int64_t>(n)));
      });
      every(newTimer(), secondsMs(static_cast<double>(opt.bot.sweep_users_interval_s)), [this] {
        const auto n = state.sweepBotUsers();
        log(LogLine("info", "sweep").kv("cache", kUsers).kv("removed", static_cast<std::int64_t>(n)));
      });
    }
    if (opt.bot.memory_log_interval_s > 0) {
      every(newTimer(), secondsMs(static_cast<double>(opt.bot.memory_log_interval_s)), [this] { memoryLine(); });
    }
    if (opt.bot.optimizer) {
      every(newTimer(), secondsMs(static_cast<double>(opt.bot.optimizer_interval_s)), [this] { optimizerRun("interval"); });
      every(newTimer(), kOptimizerCheck, [this] {
        const auto f = figures();
        const std::int64_t used = f.heap_used_bytes.value_or(0) + f.external_bytes.value_or(0);
        if (used > (opt.bot.optimizer_threshold_mb << 20) &&
            (!last_optimizer || Clock::now() - *last_optimizer > kOptimizerCooldown)) {
          optimizerRun("threshold");
        }
      });
    }
    if (w.progress_interval_s > 0) every(newTimer(), secondsMs(w.progress_interval_s), [this] { progressLine(); });
    if (w.leak_bytes_per_s > 0) {
      every(newTimer(), milliseconds(100), [this] { leak.grow(opt.work.leak_bytes_per_s / 10); });
    }
    if (w.spike_bytes > 0) startSpikes();
    if (w.hang) {
      if (w.hang_after_s > 0) {
        after(secondsMs(w.hang_after_s), [this] { hangForever("hang_after"); });
      } else {
        hang_armed = true;
      }
    }
    if (w.duration_s > 0) after(secondsMs(w.duration_s), [this] { stop("duration elapsed"); });

    registerHandlers();
    client.start();
  }

  void startSpikes() {
    auto& hold = newTimer();
    every(newTimer(), secondsMs(opt.work.spike_interval_s), [this, &hold] {
      if (spike.bytes() > 0) return;
      const std::int64_t before = measure.rss();
      spike.hold(opt.work.spike_bytes);
      log(LogLine("info", "spike_start").kv("bytes", opt.work.spike_bytes).kv("rss_before", client::formatMb(before))
              .kv("rss", client::formatMb(measure.rss())));
      hold.expires_after(secondsMs(opt.work.spike_hold_s));
      hold.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopping) return;
        spike.release();
        log(LogLine("info", "spike_end").kv("rss", client::formatMb(measure.rss())));
      });
    });
  }

  void stop(const std::string& reason) {
    if (stopping) return;
    stopping = true;
    log(LogLine("info", "stopping").kv("reason", reason).kv("events", gateway.events()));
    for (auto& t : timers) t.cancel();
    signals.cancel();
    // Give a queued reply (the shutdown ack) a moment to reach memvisord before closing.
    auto t = std::make_shared<asio::steady_timer>(io, kShutdownFlush);
    t->async_wait([this, t](const boost::system::error_code&) { client.stop(); });
  }
};

App::App(asio::io_context& io, AppOptions options) : impl_(std::make_unique<Impl>(io, std::move(options))) {}
App::~App() = default;
void App::start() { impl_->start(); }

int runBot(AppOptions options) {
  asio::io_context io;
  App app(io, std::move(options));
  app.start();
  io.run();
  log(LogLine("info", "exit").kv("code", 0));
  return 0;
}

}  // namespace memvisor::bot
