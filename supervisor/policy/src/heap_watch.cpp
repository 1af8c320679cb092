#include "memvisor/policy/heap_watch.hpp"

#include <cstdio>

#include "memvisor/config/units.hpp"

namespace memvisor::policy {

std::optional<Note> watchHeap(HeapWatch& w, std::optional<std::int64_t> used, std::optional<std::int64_t> limit) {
  if (!used || !limit || *limit <= 0) return std::nullopt;
  const double pct = 100.0 * static_cast<double>(*used) / static_cast<double>(*limit);
  char p[32];
  std::snprintf(p, sizeof p, "%.1f%%", pct);
  std::map<std::string, std::string> f{{"metric", "heap"},
                                       {"heap_used", std::to_string(*used)},
                                       {"heap_limit", std::to_string(*limit)},
                                       {"percent", p}};
  const std::string figure = "V8 heap " + config::formatBytes(*used) + " (" + p + " of its limit " +
                             config::formatBytes(*limit) + ")";
  if (w.armed && pct >= w.at_percent) {
    w.armed = false;
    return Note{Level::kWarn, "threshold",
                figure + " >= heap alert " + std::to_string(static_cast<int>(w.at_percent)) +
                    "%: past the limit the bot dies with \"JavaScript heap out of memory\"",
                f};
  }
  if (!w.armed && pct < w.at_percent - w.hysteresis_percent) {
    w.armed = true;
    return Note{Level::kInfo, "recovered", figure + " fell back: heap alert re-armed", f};
  }
  return std::nullopt;
}

}  // namespace memvisor::policy
