// Metrics: memvisord's Prometheus series, all of them per bot, kept in a SeriesTable (one row
// of numbers a bot, families built when scraped) and removed when the bot goes away. Served
// on daemon.metrics_listen by prometheus-cpp's Exposer, whose HTTP threads only call
// Collect(): the one stated reason for threads besides the io_context's.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "memvisor/daemon/figure_metrics.hpp"
#include "memvisor/daemon/saved_counters.hpp"
#include "memvisor/daemon/series_table.hpp"

namespace memvisor::daemon {

class Metrics {
 public:
  Metrics();

  using Bot = SeriesTable::Row;
  // The bot's row, created on first use. Its counters exist from then on, at 0 (restarts,
  // OOM kills, and every action's `ok` and freed bytes), so that rate() and increase() see
  // the first event; so do limit, up, connected and fatal. Figures appear when first known.
  Bot& bot(const std::string& name);
  void removeBot(const std::string& name);
  // A kept row's gauges and counters (the loop's hot path: no lookup by name).
  void set(Bot& b, Series s, double v) { table_->set(b, s, v); }
  void add(Bot& b, Series s, double v) { table_->add(b, s, v); }

  enum class Figure { kRss, kPss, kWorkingSet, kCgroup };
  // Sets the bot's figure, or removes its series when the figure is unknown (nullopt).
  void figure(const std::string& bot, Figure f, std::optional<double> value);
  void figure(Bot& b, Figure f, std::optional<double> value);  // a kept row: no lookup
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

  // What the Exposer scrapes, and a scrape of it now.
  std::shared_ptr<prometheus::Collectable> collectable() const { return table_; }
  std::vector<prometheus::MetricFamily> collect() const { return table_->Collect(); }
  // The bot's own figures, liveness and memory alert (figure_metrics.hpp).
  FigureMetrics& figures() { return figures_; }

 private:
  std::shared_ptr<SeriesTable> table_;
  FigureMetrics figures_;
};

}  // namespace memvisor::daemon
