// Headroom-scheduled sampling (see schedule.hpp for the guarantee).
#include "memvisor/policy/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace memvisor::policy {
namespace {

Duration clampDelay(double ms, const BotPolicy& p) {
  const Duration max = std::max(p.poll_max, p.poll_min);
  if (!(ms >= static_cast<double>(p.poll_min.count()))) return p.poll_min;  // also NaN
  if (ms >= static_cast<double>(max.count())) return max;
  return Duration(static_cast<Duration::rep>(std::floor(ms)));
}

}  // namespace

SampleSchedule nextSample(const PolicyState& s, const BotPolicy& p, TimePoint now,
                          bool kernel_watches) {
  SampleSchedule out;
  if (!s.last_bytes) {
    out.delay = p.poll_min;
    out.why = "first";
    return out;
  }
  const Bytes bytes = *s.last_bytes;

  // A threshold already crossed but not yet sustained decides at its next samples.
  for (std::size_t i = 0; i < p.thresholds.size() && i < s.thresholds.size(); ++i) {
    const ThresholdState& ts = s.thresholds[i];
    if (ts.armed && (ts.above_samples > 0 || ts.above_since)) {
      out.delay = p.poll_min;
      out.target = p.thresholds[i].at.resolve(p.limit);
      out.why = "pending";
      return out;
    }
  }

  // The nearest figure above the current one at which the policy would decide something.
  Bytes target = 0;
  auto consider = [&](Bytes b) {
    if (b > bytes && (target == 0 || b < target)) target = b;
  };
  for (const auto& t : p.thresholds) consider(t.at.resolve(p.limit));
  if (p.hard_ceiling) consider(p.hard_ceiling->resolve(p.limit));
  if (p.limit > 0) consider(p.limit);
  for (const auto& per : p.periodic) {
    if (per.above) consider(per.above->resolve(p.limit));
  }

  if (target == 0) {
    out.delay = p.poll_min;
    out.why = "at_limit";
  } else if (kernel_watches) {
    out.delay = std::max(p.poll_max, p.poll_min);
    out.target = target;
    out.why = "kernel";
  } else {
    const double rate = std::max(static_cast<double>(p.max_growth), growthRate(s));
    const double ms = rate > 0 ? 1000.0 * static_cast<double>(target - bytes) / rate
                               : static_cast<double>(p.poll_max.count());
    out.delay = clampDelay(ms, p);
    out.target = target;
    out.why = out.delay >= std::max(p.poll_max, p.poll_min) ? "max" : "headroom";
  }

  // Time-based decisions: an escalation after the cooldown, a periodic action, the deadline
  // of an action that never answers.
  auto due = [&](TimePoint at) {
    const double ms = std::chrono::duration<double, std::milli>(at - now).count();
    const Duration d = clampDelay(ms, p);
    if (d < out.delay) {
      out.delay = d;
      out.why = "timer";
    }
  };
  if (s.episode.active) due(s.episode.acted_at + s.episode.cooldown);
  for (std::size_t i = 0; i < p.periodic.size() && i < s.periodic_last.size(); ++i) {
    due(s.periodic_last[i] + p.periodic[i].every);
  }
  if (s.in_flight) {
    due(s.in_flight->since + 2 * s.in_flight->deadline + std::chrono::seconds(1));
  }
  return out;
}

}  // namespace memvisor::policy
