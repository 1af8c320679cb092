// Metrics: memvisord's Prometheus series. The families are built once at start-up and the
// supervisor loop only calls Set/Increment on kept series; a bot's series are removed when
// the bot goes away. Served on daemon.metrics_listen by prometheus-cpp's Exposer (its HTTP
// threads only read the registry, whose metrics are atomic: the one stated reason for
// threads besides the io_context's).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "memvisor/daemon/saved_counters.hpp"

#include "memvisor/daemon/figure_metrics.hpp"

namespace memvisor::daemon {

class Metrics {
 public:
  Metrics();

  struct BotSeries {
    // memvisor_bot_memory_bytes by figure: present only while the figure is known (a bot
    // without a visible cgroup has no working_set or cgroup series, not a 0); set through
    // Metrics::figure.
    prometheus::Gauge* rss = nullptr;
    prometheus::Gauge* pss = nullptr;
    prometheus::Gauge* working_set = nullptr;
    prometheus::Gauge* cgroup = nullptr;
    prometheus::Gauge* limit = nullptr;
    prometheus::Gauge* up = nullptr;         // 1 while the bot's process runs
    prometheus::Gauge* connected = nullptr;  // 1 while its bot session is open
    prometheus::Gauge* fatal = nullptr;      // 1 while FATAL: memvisord gave up restarting it
    prometheus::Counter* restarts = nullptr;
    prometheus::Counter* oom_kills = nullptr;
    prometheus::Gauge* detection = nullptr;  // labelled with the current path
    std::string detection_path;
  };
  // The bot's series, created on first use. Its counters exist from then on, at 0
  // (restarts, OOM kills, and every action's `ok` and freed bytes), so that rate() and
  // increase() see the first event; figures appear when first known.
  BotSeries& bot(const std::string& name);
  void removeBot(const std::string& name);
  enum class Figure { kRss, kPss, kWorkingSet, kCgroup };
  // Sets the bot's figure, or removes its series when the figure is unknown (nullopt).
  void figure(const std::string& bot, Figure f, std::optional<double> value);
  // memvisor_actions_total{bot,action,result} and memvisor_freed_bytes_total{bot,action}.
  void action(const std::string& bot, const std::string& action, const std::string& result,
              std::int64_t freed_bytes);

  // memvisor_bot_detection_bound_seconds{bot,path}: how late a crossing can be seen, and by
  // which path (eventfd, memory.events, psi, poll); one series per bot, relabelled on change.
  void detection(const std::string& bot, const std::string& path, double bound_seconds);
  // memvisor_bot_threshold_bytes{bot,action}: where each threshold's action starts, in bytes
  // (the lowest when two thresholds share an action); replaces the bot's previous set.
  void thresholds(const std::string& bot,
                  const std::vector<std::pair<std::string, double>>& at_by_action);
  // The counters of memvisor_actions_total and memvisor_freed_bytes_total of a bot (into
  // `out`'s actions_by and freed_by), and setting them back after memvisord's restart.
  void saveActions(const std::string& bot, BotCounters& out) const;
  void restoreActions(const std::string& bot, const BotCounters& saved);

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  // The bot's own figures, liveness and memory alert (figure_metrics.hpp).
  FigureMetrics& figures() { return *figures_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& memory_;
  prometheus::Family<prometheus::Gauge>& limit_;
  prometheus::Family<prometheus::Gauge>& threshold_;
  prometheus::Family<prometheus::Gauge>& up_;
  prometheus::Family<prometheus::Gauge>& connected_;
  prometheus::Family<prometheus::Gauge>& fatal_;
  prometheus::Family<prometheus::Counter>& restarts_;
  prometheus::Family<prometheus::Counter>& oom_kills_;
  prometheus::Family<prometheus::Counter>& actions_;
  prometheus::Family<prometheus::Counter>& freed_;
  prometheus::Family<prometheus::Gauge>& detection_;
  std::unique_ptr<FigureMetrics> figures_;
  std::map<std::string, BotSeries> bots_;
  std::map<std::string, std::vector<prometheus::Gauge*>> threshold_series_;  // by bot
  // By bot: "action:result" -> memvisor_actions_total, "freed:action" -> freed bytes.
  std::map<std::string, std::map<std::string, prometheus::Counter*>> action_series_;
};

}  // namespace memvisor::daemon
