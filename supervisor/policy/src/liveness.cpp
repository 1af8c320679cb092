// Liveness verdicts: ping misses and event-loop lag -> hung / recovered (see liveness.hpp).
#include "memvisor/policy/liveness.hpp"

#include <cstdio>

#include "memvisor/config/units.hpp"

namespace memvisor::policy {
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string msText(double v) { return num(v) + " ms"; }

LivenessVerdict verdict(bool was_hung, const LivenessState& s, std::string reason,
                        std::map<std::string, std::string> fields) {
  LivenessVerdict v;
  if (!was_hung && s.hung()) v.change = LivenessChange::kHung;
  if (was_hung && !s.hung()) v.change = LivenessChange::kRecovered;
  v.reason = std::move(reason);
  v.fields = std::move(fields);
  return v;
}

}  // namespace

LivenessVerdict onPong(LivenessState& s, const config::Liveness& c, double rtt_ms, bool late) {
  const bool was = s.hung();
  const int missed = s.misses;
  s.misses = 0;
  s.answered = true;
  s.last_rtt_ms = rtt_ms;
  s.ping_hung = false;
  std::string reason = "answered a ping in " + msText(rtt_ms) +
                       (late ? " (after its " + config::formatDuration(c.deadline) + " deadline)"
                             : "") +
                       (missed > 0 ? " after " + std::to_string(missed) + " missed" : "");
  return verdict(was, s, std::move(reason),
                 {{"rtt_ms", num(rtt_ms)},
                  {"missed", std::to_string(missed)},
                  {"late", late ? "true" : "false"}});
}

LivenessVerdict onPingMissed(LivenessState& s, const config::Liveness& c) {
  const bool was = s.hung();
  ++s.misses;
  std::string reason = std::to_string(s.misses) + (s.misses == 1 ? " ping" : " pings in a row") +
                       " unanswered within " + config::formatDuration(c.deadline);
  if (s.misses >= c.misses && !s.ping_hung) {
    s.ping_hung = true;
    s.reason = reason;
  }
  return verdict(was, s, std::move(reason),
                 {{"misses", std::to_string(s.misses)},
                  {"misses_allowed", std::to_string(c.misses)},
                  {"deadline_ms", std::to_string(c.deadline.count())}});
}

LivenessVerdict onLag(LivenessState& s, const config::Liveness& c, double lag_ms,
                      LivenessTime now) {
  const bool was = s.hung();
  if (!c.max_lag) return {};
  const double bound = std::chrono::duration<double, std::milli>(*c.max_lag).count();
  std::map<std::string, std::string> fields{
      {"lag_ms", num(lag_ms)},
      {"max_lag_ms", std::to_string(c.max_lag->count())}};
  if (lag_ms > bound) {
    if (!s.lag_above_since) s.lag_above_since = now;
    const auto held = now - *s.lag_above_since;
    if (held >= c.lag_for && !s.lag_hung) {
      s.lag_hung = true;
      s.reason = "event-loop lag " + msText(lag_ms) + " above " +
                 config::formatDuration(*c.max_lag) + " for " +
                 config::formatDuration(std::chrono::duration_cast<config::Duration>(held));
      return verdict(was, s, s.reason, std::move(fields));
    }
    return {};
  }
  s.lag_above_since.reset();
  if (!s.lag_hung) return {};
  s.lag_hung = false;
  return verdict(was, s,
                 "event-loop lag back to " + msText(lag_ms) + " (bound " +
                     config::formatDuration(*c.max_lag) + ")",
                 std::move(fields));
}

void resetLiveness(LivenessState& s) { s = LivenessState{}; }

const char* livenessName(const LivenessState& s, const config::Liveness& c) {
  if (!c.enabled) return "off";
  if (s.hung()) return "hung";
  return s.answered ? "ok" : "unknown";
}

}  // namespace memvisor::policy
