// The monitor's alert with hysteresis (see memory_alert.hpp).
#include "memvisor/policy/memory_alert.hpp"

#include <cstdio>

#include "memvisor/config/units.hpp"

namespace memvisor::policy {

AlertVerdict stepAlert(AlertState& s, const config::Monitor& m, config::Metric metric,
                       config::Bytes limit, config::Bytes figure) {
  if (!m.alert_at || limit <= 0) {
    s.on = false;
    return {};
  }
  const config::Bytes at = m.alert_at->resolve(limit);
  const config::Bytes clear = at - m.alert_hysteresis.resolve(limit);
  char pct[16];
  std::snprintf(pct, sizeof pct, "%.0f%%", 100.0 * static_cast<double>(figure) /
                                               static_cast<double>(limit));
  std::map<std::string, std::string> fields{{"metric", config::toString(metric)},
                                            {"figure", std::to_string(figure)},
                                            {"alert_at", std::to_string(at)},
                                            {"clear_below", std::to_string(clear)},
                                            {"limit", std::to_string(limit)}};
  const std::string name = config::toString(metric);
  if (!s.on && figure >= at) {
    s.on = true;
    ++s.raised;
    return {AlertChange::kRaised,
            "memory alert: " + name + " " + config::formatBytes(figure) + " is " + pct +
                " of the " + config::formatBytes(limit) + " limit (alert at " +
                config::formatBytes(at) + ", clears below " + config::formatBytes(clear) + ")",
            std::move(fields)};
  }
  if (s.on && figure < clear) {
    s.on = false;
    return {AlertChange::kCleared,
            "memory alert cleared: " + name + " " + config::formatBytes(figure) + " (" + pct +
                ") is below " + config::formatBytes(clear),
            std::move(fields)};
  }
  return {};
}

}  // namespace memvisor::policy
