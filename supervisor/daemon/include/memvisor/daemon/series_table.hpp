// SeriesTable: every per-bot Prometheus series memvisord exposes, kept as plain numbers in one
// row per bot and turned into metric families only when scraped (a prometheus::Collectable,
// registered with the Exposer).
//
// Why not prometheus-cpp's Family: it keeps a label map and a heap-allocated metric for every
// series, about 330 bytes each (measured with mallinfo2 on Debian's prometheus-cpp 1.0.1); at
// the ~26 series of a bot that was 8.6 MiB of memvisord's 33 MiB with 1,000 bots. A row here
// is its numbers, a bit per series present, and the label values of its open sets (action
// results, caches, thresholds): about 1 KiB a bot.
//
// Threads: the Exposer's HTTP threads call Collect() while the event loop updates rows. One
// mutex guards the table; the loop holds it for one update at a time, a scrape for one copy.
// Rows are created and removed on the loop only, so a Row& stays valid between the two.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace memvisor::daemon {

// One series of a bot, by family and fixed label value (series_table.cpp names them).
enum class Series : std::uint8_t {
  kRss, kPss, kWorkingSet, kCgroup,  // memvisor_bot_memory_bytes{figure}
  kLimit, kUp, kConnected, kFatal,
  kDetection,  // memvisor_bot_detection_bound_seconds{path}: the row's detection path
  kHeapUsed, kHeapTotal, kExternal, kReportedRss, kLag, kStale, kHung, kRtt, kAlert,
  kRestarts, kOomKills, kHangs, kAlerts,  // counters
  kCount
};

// The families whose second label takes values not known in advance.
enum class OpenSeries : std::uint8_t {
  kActions,    // memvisor_actions_total{action,result}, key "action:result"
  kFreed,      // memvisor_freed_bytes_total{action}
  kThreshold,  // memvisor_bot_threshold_bytes{action}
  kCaches,     // memvisor_bot_cache_entries{cache}
  kCount
};

class SeriesTable : public prometheus::Collectable {
 public:
  struct Row {
    std::array<double, static_cast<std::size_t>(Series::kCount)> value{};
    std::uint32_t present = 0;  // bit per Series
    std::string detection_path;
    std::array<std::vector<std::pair<std::string, double>>,
               static_cast<std::size_t>(OpenSeries::kCount)>
        open;
  };

  // The bot's row, created empty (no series) on first use.
  Row& row(const std::string& bot);
  const Row* find(const std::string& bot) const;  // nullptr: no row
  void remove(const std::string& bot);

  // Gauges: the series exists from the first set; drop removes it.
  void set(Row& r, Series s, double v);
  void drop(Row& r, Series s);
  // Counters: add creates the series at 0 and adds v.
  void add(Row& r, Series s, double v);
  std::optional<double> value(const Row& r, Series s) const;
  void setDetection(Row& r, const std::string& path, double v);

  void setOpen(Row& r, OpenSeries f, const std::string& key, double v);
  void addOpen(Row& r, OpenSeries f, const std::string& key, double v);
  void dropOpen(Row& r, OpenSeries f, const std::string& key);
  void clearOpen(Row& r, OpenSeries f);
  std::vector<std::pair<std::string, double>> open(const Row& r, OpenSeries f) const;

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Row, std::less<>> rows_;
};

}  // namespace memvisor::daemon
