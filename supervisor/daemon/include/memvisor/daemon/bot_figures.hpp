// BotFigures: what a bot reports about itself, as memvisord keeps it. Holds the bot's latest
// `stats` with its age, marks it stale when no `stats` came for monitor.stale_after stats
// intervals, writes the seed's monitor line every monitor.log_every (its `[MEM] rss=…
// heapUsed=… heapTotal=… ext=… evLoopDelay=…`, structured), and runs the monitor's memory
// alert (policy/memory_alert.hpp) on each of memvisord's own samples. Journals through a
// callback and sets the figure series; owns one timer, on the daemon's io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "memvisor/config/config.hpp"
#include "memvisor/daemon/clock.hpp"
#include "memvisor/daemon/figure_metrics.hpp"
#include "memvisor/policy/memory_alert.hpp"
#include "memvisor/proto/messages.hpp"

namespace memvisor::daemon {

class BotFigures {
 public:
  using Clock = std::chrono::steady_clock;
  using JournalFn = std::function<void(const std::string& kind, proto::Level level,
                                       const std::string& message,
                                       std::map<std::string, std::string> fields)>;
  struct Settings {
    config::Monitor monitor;
    config::Duration stats_interval{std::chrono::seconds(5)};
  };

  BotFigures(boost::asio::io_context& io, std::string bot, FigureMetrics* metrics,
             JournalFn journal, SteadyNow now = steadyClock());
  ~BotFigures();
  BotFigures(const BotFigures&) = delete;
  BotFigures& operator=(const BotFigures&) = delete;

  void configure(const Settings& settings);
  // A process (re)started: forget its predecessor's figures; start the monitor's timer.
  void start();
  // The process ended: stop the timer (the last figures stay, stale once too old).
  void stop();
  void onStats(const proto::Stats& stats);
  // One of memvisord's own samples: the alert, and the rss the monitor line shows.
  void onSample(config::Metric metric, config::Bytes limit, config::Bytes figure,
                std::optional<config::Bytes> rss);

  std::optional<proto::BotStats> status() const;  // absent before the first stats
  std::optional<bool> alertOn() const;            // absent when the alert is off
  bool stale() const { return stale_; }

 private:
  void schedule();
  void tick();
  void checkStale(Clock::time_point now);
  void logMonitorLine(Clock::time_point now);

  boost::asio::io_context& io_;
  std::string bot_;
  FigureMetrics* metrics_;
  JournalFn journal_;
  SteadyNow now_;
  Settings settings_;
  boost::asio::steady_timer timer_;
  bool running_ = false;
  std::optional<proto::Stats> last_;
  std::optional<Clock::time_point> last_at_;
  bool stale_ = false;
  std::optional<config::Bytes> rss_;  // memvisord's latest
  std::optional<Clock::time_point> last_log_at_;
  policy::AlertState alert_;
  bool alert_measured_ = false;
  bool alert_published_ = false;  // the alert series set since the last configure()
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace memvisor::daemon
