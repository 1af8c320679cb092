// The per-bot series of memvisord as rows of numbers (see the header).
#include "memvisor/daemon/series_table.hpp"

#include <algorithm>

namespace memvisor::daemon {

namespace pm = prometheus;

namespace {

struct FamilyDesc {
  const char* name;
  const char* help;
  pm::MetricType type;
};

// Families, in exposition order. Open families come last, in OpenSeries order.
enum Family : std::uint8_t {
  kMemory, kLimitF, kThresholdF, kUpF, kConnectedF, kFatalF, kRestartsF, kOomKillsF, kActionsF,
  kFreedF, kDetectionF, kHeapUsedF, kHeapTotalF, kExternalF, kReportedRssF, kLagF, kCachesF,
  kStaleF, kHungF, kHangsF, kRttF, kAlertF, kAlertsF, kFamilyCount
};

constexpr auto G = pm::MetricType::Gauge;
constexpr auto C = pm::MetricType::Counter;

const std::array<FamilyDesc, kFamilyCount> kFamilies{{
    {"memvisor_bot_memory_bytes",
     "A supervised bot's memory by figure: rss, pss, working_set, cgroup", G},
    {"memvisor_bot_limit_bytes", "The memory limit memvisord enforces for the bot", G},
    {"memvisor_bot_threshold_bytes",
     "Where a threshold's action starts, by action (trim, sweep, compact, restart, alert)", G},
    {"memvisor_bot_up", "1 while the bot's process runs", G},
    {"memvisor_bot_connected", "1 while the bot is connected to the bot socket", G},
    {"memvisor_bot_fatal",
     "1 while the bot is FATAL: it crash-looped and memvisord stopped restarting it "
     "(memvisorctl start brings it back)",
     G},
    {"memvisor_bot_restarts_total", "Restarts of the bot (crashes and memory restarts)", C},
    {"memvisor_bot_oom_kills_total", "Kernel OOM kills seen in the bot's cgroup", C},
    {"memvisor_actions_total", "Actions taken on a bot, by action and result", C},
    {"memvisor_freed_bytes_total", "Bytes the bot reported freed by successful actions", C},
    {"memvisor_bot_detection_bound_seconds",
     "Longest delay between a crossing and the sample that sees it, at growth up to "
     "poll.max_growth, by detection path",
     G},
    {"memvisor_bot_heap_used_bytes",
     "Heap in use, as the bot reports it (V8 heapUsed; C++ mallinfo2 uordblks)", G},
    {"memvisor_bot_heap_total_bytes",
     "Heap reserved, as the bot reports it (V8 heapTotal; C++ arena + hblkhd)", G},
    {"memvisor_bot_external_bytes", "Memory outside the heap, as the bot reports it (V8 external)",
     G},
    {"memvisor_bot_reported_rss_bytes",
     "Resident set size as the bot itself reports it in its stats", G},
    {"memvisor_bot_event_loop_lag_seconds",
     "Event-loop delay the bot reports (the seed's evLoopDelay)", G},
    {"memvisor_bot_cache_entries", "Entries per named cache of the bot", G},
    {"memvisor_bot_stats_stale",
     "1 when the bot has sent no stats for stale_after intervals (its figures are then absent)",
     G},
    {"memvisor_bot_hung",
     "1 while the bot is hung: pings unanswered, or event-loop lag above its bound", G},
    {"memvisor_bot_hangs_total", "Times the bot was found hung", C},
    {"memvisor_bot_ping_rtt_seconds", "Round trip of the bot's last answered ping", G},
    {"memvisor_bot_memory_alert",
     "1 while the monitor's memory alert is on (default 80% of the limit)", G},
    {"memvisor_bot_memory_alerts_total",
     "Memory alerts raised (once per crossing, with hysteresis)", C},
}};

struct SeriesDesc {
  Family family;
  const char* label;  // the second label's name, or nullptr (only "bot")
  const char* value;  // its value (kDetection: the row's detection path)
};

const std::array<SeriesDesc, static_cast<std::size_t>(Series::kCount)> kSeries{{
    {kMemory, "figure", "rss"},
    {kMemory, "figure", "pss"},
    {kMemory, "figure", "working_set"},
    {kMemory, "figure", "cgroup"},
    {kLimitF, nullptr, nullptr},
    {kUpF, nullptr, nullptr},
    {kConnectedF, nullptr, nullptr},
    {kFatalF, nullptr, nullptr},
    {kDetectionF, "path", nullptr},
    {kHeapUsedF, nullptr, nullptr},
    {kHeapTotalF, nullptr, nullptr},
    {kExternalF, nullptr, nullptr},
    {kReportedRssF, nullptr, nullptr},
    {kLagF, nullptr, nullptr},
    {kStaleF, nullptr, nullptr},
    {kHungF, nullptr, nullptr},
    {kRttF, nullptr, nullptr},
    {kAlertF, nullptr, nullptr},
    {kRestartsF, nullptr, nullptr},
    {kOomKillsF, nullptr, nullptr},
    {kHangsF, nullptr, nullptr},
    {kAlertsF, nullptr, nullptr},
}};

struct OpenDesc {
  Family family;
  const char* label;
  const char* second;  // kActions: the key is "action:result"
};
const std::array<OpenDesc, static_cast<std::size_t>(OpenSeries::kCount)> kOpen{{
    {kActionsF, "action", "result"},
    {kFreedF, "action", nullptr},
    {kThresholdF, "action", nullptr},
    {kCachesF, "cache", nullptr},
}};

std::uint32_t bit(Series s) { return 1u << static_cast<unsigned>(s); }
std::size_t index(Series s) { return static_cast<std::size_t>(s); }
std::size_t index(OpenSeries f) { return static_cast<std::size_t>(f); }

void put(pm::MetricFamily& fam, double v, std::vector<pm::ClientMetric::Label> labels) {
  pm::ClientMetric m;
  // By name, as prometheus-cpp's own families expose them (`action` before `bot`).
  std::sort(labels.begin(), labels.end());
  m.label = std::move(labels);
  if (fam.type == pm::MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  fam.metric.push_back(std::move(m));
}

using Entries = std::vector<std::pair<std::string, double>>;

Entries::iterator findEntry(Entries& e, const std::string& key) {
  return std::find_if(e.begin(), e.end(), [&](const auto& p) { return p.first == key; });
}

// The value of `key`, a new entry at 0 when there is none.
double& entry(Entries& e, const std::string& key) {
  if (auto it = findEntry(e, key); it != e.end()) return it->second;
  return e.emplace_back(key, 0.0).second;
}

}  // namespace

SeriesTable::Row& SeriesTable::row(const std::string& bot) {
  std::lock_guard lock(mutex_);
  return rows_.try_emplace(bot).first->second;
}

const SeriesTable::Row* SeriesTable::find(const std::string& bot) const {
  std::lock_guard lock(mutex_);
  auto it = rows_.find(bot);
  return it == rows_.end() ? nullptr : &it->second;
}

void SeriesTable::remove(const std::string& bot) {
  std::lock_guard lock(mutex_);
  if (auto it = rows_.find(bot); it != rows_.end()) rows_.erase(it);
}

void SeriesTable::set(Row& r, Series s, double v) {
  std::lock_guard lock(mutex_);
  r.value[index(s)] = v;
  r.present |= bit(s);
}

void SeriesTable::drop(Row& r, Series s) {
  std::lock_guard lock(mutex_);
  r.value[index(s)] = 0;
  r.present &= ~bit(s);
}

void SeriesTable::add(Row& r, Series s, double v) {
  std::lock_guard lock(mutex_);
  if (!(r.present & bit(s))) r.value[index(s)] = 0;
  r.value[index(s)] += v;
  r.present |= bit(s);
}

std::optional<double> SeriesTable::value(const Row& r, Series s) const {
  std::lock_guard lock(mutex_);
  if (!(r.present & bit(s))) return std::nullopt;
  return r.value[index(s)];
}

void SeriesTable::setDetection(Row& r, const std::string& path, double v) {
  std::lock_guard lock(mutex_);
  r.detection_path = path;
  r.value[index(Series::kDetection)] = v;
  r.present |= bit(Series::kDetection);
}

void SeriesTable::setOpen(Row& r, OpenSeries f, const std::string& key, double v) {
  std::lock_guard lock(mutex_);
  entry(r.open[index(f)], key) = v;
}

void SeriesTable::addOpen(Row& r, OpenSeries f, const std::string& key, double v) {
  std::lock_guard lock(mutex_);
  entry(r.open[index(f)], key) += v;
}

void SeriesTable::dropOpen(Row& r, OpenSeries f, const std::string& key) {
  std::lock_guard lock(mutex_);
  auto& e = r.open[index(f)];
  if (auto it = findEntry(e, key); it != e.end()) e.erase(it);
}

void SeriesTable::clearOpen(Row& r, OpenSeries f) {
  std::lock_guard lock(mutex_);
  r.open[index(f)].clear();
}

std::vector<std::pair<std::string, double>> SeriesTable::open(const Row& r, OpenSeries f) const {
  std::lock_guard lock(mutex_);
  return r.open[index(f)];
}

std::vector<pm::MetricFamily> SeriesTable::Collect() const {
  // Copy the rows under the lock (a few hundred bytes each) and build the families outside
  // it, so that a scrape of 1,000 bots holds the loop up for a copy, not for 26,000 series.
  std::vector<std::pair<std::string, Row>> rows;
  {
    std::lock_guard lock(mutex_);
    rows.reserve(rows_.size());
    for (const auto& [bot, row] : rows_) rows.emplace_back(bot, row);
  }
  std::vector<pm::MetricFamily> families(kFamilies.size());
  for (std::size_t i = 0; i < kFamilies.size(); ++i) {
    families[i].name = kFamilies[i].name;
    families[i].help = kFamilies[i].help;
    families[i].type = kFamilies[i].type;
  }
  for (const auto& [bot, row] : rows) {
    for (std::size_t i = 0; i < kSeries.size(); ++i) {
      if (!(row.present & (1u << i))) continue;
      const SeriesDesc& d = kSeries[i];
      std::vector<pm::ClientMetric::Label> labels{{"bot", bot}};
      if (d.label) labels.push_back({d.label, d.value ? d.value : row.detection_path});
      put(families[d.family], row.value[i], std::move(labels));
    }
    for (std::size_t f = 0; f < kOpen.size(); ++f) {
      const OpenDesc& d = kOpen[f];
      for (const auto& [key, v] : row.open[f]) {
        std::vector<pm::ClientMetric::Label> labels{{"bot", bot}};
        if (d.second) {
          const auto colon = key.find(':');
          labels.push_back({d.label, key.substr(0, colon)});
          labels.push_back({d.second, colon == std::string::npos ? "" : key.substr(colon + 1)});
        } else {
          labels.push_back({d.label, key});
        }
        put(families[d.family], v, std::move(labels));
      }
    }
  }
  return families;
}

}  // namespace memvisor::daemon
