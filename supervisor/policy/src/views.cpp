// The policy's read-only views of a state and a policy: growth rate, memory state, resolved
// thresholds, the re-arm floor and the headroom below the hard ceiling (see policy.hpp;
// when to sample next is schedule.cpp).
#include <algorithm>
#include <cmath>

#include "memvisor/policy/policy.hpp"

namespace memvisor::policy {
namespace {

double secondsBetween(TimePoint a, TimePoint b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

Bytes rearmFloor(const BotPolicy& p) {
  const Bytes hyst = p.hysteresis.resolve(p.limit);
  std::optional<Bytes> lowest;
  for (const auto& t : p.thresholds) {
    if (t.action != ActionKind::kTrim && t.action != ActionKind::kSweep && t.action != ActionKind::kCompact) continue;
    const Bytes at = t.at.resolve(p.limit);
    if (!lowest || at < *lowest) lowest = at;
  }
  const Bytes top = lowest.value_or(p.limit);
  return top > hyst ? top - hyst : 0;
}

std::optional<Bytes> headroomBelowCeiling(const BotPolicy& p, Bytes figure) {
  if (!p.hard_ceiling) return std::nullopt;
  return std::max<Bytes>(0, p.hard_ceiling->resolve(p.limit) - figure);
}

double growthRate(const PolicyState& s) {
  if (s.window.size() < 3) return 0.0;
  const TimePoint t0 = s.window.front().first;
  if (secondsBetween(t0, s.window.back().first) < 1.0) return 0.0;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double n = static_cast<double>(s.window.size());
  for (const auto& [t, b] : s.window) {
    const double x = secondsBetween(t0, t);
    const double y = static_cast<double>(b);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double den = n * sxx - sx * sx;
  if (den <= 0) return 0.0;
  return (n * sxy - sx * sy) / den;
}

std::string memoryState(const BotPolicy& p, Bytes metric) {
  if (metric >= p.limit) return "critical";
  if (p.hard_ceiling && metric >= p.hard_ceiling->resolve(p.limit)) return "critical";
  std::string state = "ok";
  for (const auto& t : p.thresholds) {
    if (metric < t.at.resolve(p.limit)) continue;
    if (t.action == ActionKind::kRestart) return "critical";
    if (t.action == ActionKind::kSweep || t.action == ActionKind::kCompact) {
      state = "high";
    } else if (state == "ok") {
      state = "elevated";
    }
  }
  return state;
}

std::vector<Bytes> thresholdBytes(const BotPolicy& p) {
  std::vector<Bytes> out;
  for (const auto& t : p.thresholds) out.push_back(t.at.resolve(p.limit));
  return out;
}

}  // namespace memvisor::policy
