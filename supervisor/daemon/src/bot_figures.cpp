// A bot's own figures: latest stats with age and staleness, the monitor line, the alert.
#include "memvisor/daemon/bot_figures.hpp"

#include <algorithm>
#include <cstdio>

#include "memvisor/config/units.hpp"

namespace memvisor::daemon {

using std::chrono::milliseconds;

namespace {

// The seed's monitor spelled sizes in MB with one decimal; ours are binary units.
std::string mib(std::int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fMiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

std::string msText(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

BotFigures::BotFigures(boost::asio::io_context& io, std::string bot, FigureMetrics* metrics,
                       JournalFn journal, SteadyNow now)
    : io_(io),
      bot_(std::move(bot)),
      metrics_(metrics),
      journal_(std::move(journal)),
      now_(std::move(now)),
      timer_(io) {}

BotFigures::~BotFigures() {
  *alive_ = false;
  timer_.cancel();
}

void BotFigures::configure(const Settings& settings) {
  const bool alert_was = settings_.monitor.alert_at.has_value();
  settings_ = settings;
  if (metrics_) metrics_->alertEnabled(bot_, settings_.monitor.alert_at.has_value());
  alert_published_ = false;
  if (alert_was && !settings_.monitor.alert_at) alert_ = {};
  if (running_) schedule();
}

void BotFigures::start() {
  last_.reset();
  last_at_.reset();
  stale_ = false;
  rss_.reset();
  last_log_at_ = now_();  // the first line after one full interval, as the seed did
  if (metrics_) metrics_->forgetStats(bot_);
  running_ = true;
  schedule();
}

void BotFigures::stop() {
  running_ = false;
  timer_.cancel();
}

void BotFigures::schedule() {
  // Often enough to notice staleness within a stats interval and to keep the monitor's
  // cadence; never busier than once a second's tenth.
  auto period = settings_.stats_interval;
  if (settings_.monitor.log_every.count() > 0) period = std::min(period, settings_.monitor.log_every);
  period = std::max<config::Duration>(period, milliseconds(100));
  timer_.expires_after(period);
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (ec || alive.expired() || !running_) return;
    tick();
  });
}

void BotFigures::tick() {
  const auto now = now_();
  checkStale(now);
  if (settings_.monitor.log_every.count() > 0 && last_log_at_ &&
      now - *last_log_at_ >= settings_.monitor.log_every - milliseconds(50)) {
    last_log_at_ = now;
    logMonitorLine(now);
  }
  schedule();
}

void BotFigures::checkStale(Clock::time_point now) {
  if (!last_at_ || stale_) return;
  const auto after = settings_.stats_interval * settings_.monitor.stale_after;
  if (now - *last_at_ < after) return;
  stale_ = true;
  if (metrics_) metrics_->stale(bot_);
  const auto age = std::chrono::duration_cast<milliseconds>(now - *last_at_);
  journal_("stats", proto::Level::kWarn,
           "no stats from the bot for " + config::formatDuration(age) + " (" +
               std::to_string(settings_.monitor.stale_after) + " intervals of " +
               config::formatDuration(settings_.stats_interval) +
               "): its own figures are stale",
           {{"age_ms", std::to_string(age.count())},
            {"stats_interval_ms", std::to_string(settings_.stats_interval.count())}});
}

void BotFigures::onStats(const proto::Stats& stats) {
  const auto now = now_();
  if (stale_) {
    const auto gap = std::chrono::duration_cast<milliseconds>(now - last_at_.value_or(now));
    journal_("stats", proto::Level::kInfo,
             "stats from the bot again after " + config::formatDuration(gap),
             {{"gap_ms", std::to_string(gap.count())}});
  }
  stale_ = false;
  last_ = stats;
  last_at_ = now;
  if (metrics_) metrics_->stats(bot_, stats);
}

void BotFigures::onSample(config::Metric metric, config::Bytes limit, config::Bytes figure,
                          std::optional<config::Bytes> rss) {
  rss_ = rss;
  if (!settings_.monitor.alert_at) return;
  auto v = policy::stepAlert(alert_, settings_.monitor, metric, limit, figure);
  if (v.change == policy::AlertChange::kRaised) {
    journal_("alert", proto::Level::kWarn, v.message, v.fields);
  } else if (v.change == policy::AlertChange::kCleared) {
    journal_("alert", proto::Level::kInfo, v.message, v.fields);
  }
  // The series once, then on each change: an idle bot's samples change nothing here.
  const bool publish = !alert_published_ || v.change != policy::AlertChange::kNone;
  alert_measured_ = true;
  alert_published_ = true;
  if (metrics_ && publish) {
    metrics_->alert(bot_, alert_.on, v.change == policy::AlertChange::kRaised);
  }
}

void BotFigures::logMonitorLine(Clock::time_point now) {
  std::string line;
  std::map<std::string, std::string> fields;
  if (rss_) {
    line = "rss=" + mib(*rss_);
    fields["rss_bytes"] = std::to_string(*rss_);
  }
  auto add = [&](const char* label, const char* key, const std::optional<std::int64_t>& v) {
    if (!v) return;
    line += std::string(line.empty() ? "" : " ") + label + "=" + mib(*v);
    fields[key] = std::to_string(*v);
  };
  if (last_ && !stale_) {
    add("heapUsed", "heap_used_bytes", last_->mem.heap_used_bytes);
    add("heapTotal", "heap_total_bytes", last_->mem.heap_total_bytes);
    add("ext", "external_bytes", last_->mem.external_bytes);
    if (last_->event_loop_lag_ms) {
      line += std::string(line.empty() ? "" : " ") + "evLoopDelay=" +
              msText(*last_->event_loop_lag_ms) + "ms";
      fields["event_loop_lag_ms"] = msText(*last_->event_loop_lag_ms);
    }
    for (const auto& [name, n] : last_->caches) fields["cache_" + name] = std::to_string(n);
  } else if (last_) {
    const auto age = std::chrono::duration_cast<milliseconds>(now - *last_at_);
    line += std::string(line.empty() ? "" : " ") + "(the bot's own figures are stale, " +
            config::formatDuration(age) + " old)";
    fields["stale"] = "true";
  } else {
    line += std::string(line.empty() ? "" : " ") + "(no stats from the bot)";
  }
  if (line.empty()) return;
  journal_("monitor", proto::Level::kInfo, line, std::move(fields));
}

std::optional<proto::BotStats> BotFigures::status() const {
  if (!last_ || !last_at_) return std::nullopt;
  proto::BotStats s;
  s.age_ms = std::chrono::duration_cast<milliseconds>(now_() - *last_at_).count();
  // Also stale when the timer has not yet noticed (status between two ticks).
  s.stale = stale_ ||
            now_() - *last_at_ >= settings_.stats_interval * settings_.monitor.stale_after;
  s.stats = *last_;
  return s;
}

std::optional<bool> BotFigures::alertOn() const {
  if (!settings_.monitor.alert_at || !alert_measured_) return std::nullopt;
  return alert_.on;
}

}  // namespace memvisor::daemon
