// The policy's entry points: state, step() running the triggers in order, and results fed
// back (see policy.hpp for the contract; the triggers are in triggers.cpp).
#include "memvisor/policy/policy.hpp"

#include <algorithm>

#include "step_context.hpp"

namespace memvisor::policy {

using namespace detail;

namespace {

using config::formatBytes;
using config::formatDuration;

constexpr std::size_t kMaxWindowSamples = 1024;
constexpr Duration kDefaultWindow = std::chrono::seconds(60);

// Why a restart may not be taken now (start-up grace, or the last restart failed), or "".
std::string restartBlocked(const PolicyState& s, const BotPolicy& p, TimePoint now) {
  if (now - s.started_at < p.startup_grace) {
    return "start-up grace until " +
           formatDuration(std::chrono::duration_cast<Duration>(s.started_at + p.startup_grace - now)) +
           " from now";
  }
  if (s.restart_blocked) return "the last restart failed";
  return "";
}

Urgency urgencyFor(ActionKind a, Trigger t) {
  if (t == Trigger::kHardCeiling) return Urgency::kCritical;
  if (t == Trigger::kPeriodic) return Urgency::kLow;
  if (t == Trigger::kEscalation || memvisor::actionInfo(a).urgent) return Urgency::kHigh;
  return Urgency::kNormal;
}

void trimWindow(PolicyState& s, const BotPolicy& p, TimePoint now) {
  const Duration window = p.predictive ? p.predictive->window : kDefaultWindow;
  while (!s.window.empty() && now - s.window.front().first > window) s.window.pop_front();
  while (s.window.size() > kMaxWindowSamples) s.window.pop_front();
}

}  // namespace

namespace detail {

std::map<std::string, std::string> baseFields(const BotPolicy& p, Bytes bytes) {
  return {{"metric", config::toString(p.metric)},
          {"figure", std::to_string(bytes)},
          {"limit", std::to_string(p.limit)}};
}

Note makeNote(Level level, std::string kind, std::string message,
              std::map<std::string, std::string> fields) {
  return Note{level, std::move(kind), std::move(message), std::move(fields)};
}

Intent makeIntent(PolicyState& s, const BotPolicy& p, ActionKind a, Trigger t, std::string reason,
                  Bytes bytes, TimePoint now) {
  Intent in;
  in.action = a;
  in.trigger = t;
  in.urgency = urgencyFor(a, t);
  in.deadline = p.deadlines.forAction(a);
  in.reason = std::move(reason);
  in.fields = baseFields(p, bytes);
  in.fields["trigger"] = toString(t);
  in.fields["action"] = config::toString(a);
  if ((a == ActionKind::kTrim || a == ActionKind::kSweep || a == ActionKind::kCompact) &&
      t != Trigger::kPeriodic) {
    const Bytes floor = rearmFloor(p);
    if (bytes > floor) {
      in.target_bytes = bytes - floor;
      in.fields["target_bytes"] = std::to_string(bytes - floor);
    }
  }
  if (a == ActionKind::kTrim || a == ActionKind::kSweep || a == ActionKind::kCompact) {
    in.headroom_bytes = headroomBelowCeiling(p, bytes);
  }
  if (a != ActionKind::kAlert) {
    s.last_run[memvisor::actionIndex(a)] = now;
    s.last_trigger[memvisor::actionIndex(a)] = t;
    s.in_flight = InFlight{a, t, now, in.deadline};
  }
  return in;
}

Bytes compactEnough(const BotPolicy& p) {
  for (const auto& t : p.thresholds) {
    if (t.action == ActionKind::kCompact) return std::max<Bytes>(1, t.min_freed);
  }
  return 1;
}

}  // namespace detail

const char* toString(Urgency u) {
  switch (u) {
    case Urgency::kLow: return "low";
    case Urgency::kNormal: return "normal";
    case Urgency::kHigh: return "high";
    case Urgency::kCritical: return "critical";
  }
  return "?";
}

const char* toString(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "?";
}

const char* toString(Trigger t) {
  switch (t) {
    case Trigger::kThreshold: return "threshold";
    case Trigger::kEscalation: return "escalation";
    case Trigger::kPeriodic: return "periodic";
    case Trigger::kPredictive: return "predictive";
    case Trigger::kHardCeiling: return "hard_ceiling";
  }
  return "?";
}

const char* toString(Outcome o) {
  switch (o) {
    case Outcome::kOk: return "ok";
    case Outcome::kFailed: return "failed";
    case Outcome::kTimeout: return "timeout";
    case Outcome::kNotConnected: return "not_connected";
    case Outcome::kUnsupported: return "unsupported";
  }
  return "?";
}

PolicyState makeState(const BotPolicy& p, TimePoint started_at) {
  PolicyState s;
  s.started_at = started_at;
  s.thresholds.assign(p.thresholds.size(), ThresholdState{});
  s.periodic_last.assign(p.periodic.size(), started_at);
  s.predictive_next = p.predictive ? p.predictive->action : ActionKind::kSweep;
  return s;
}

void onBotStarted(PolicyState& s, const BotPolicy& p, TimePoint now) {
  auto last_result = s.last_result;
  auto last_result_at = s.last_result_at;
  s = makeState(p, now);
  s.last_result = last_result;
  s.last_result_at = last_result_at;
}

std::vector<Note> onActionResult(PolicyState& s, const ActionResult& r, const BotPolicy& p,
                                 TimePoint now) {
  std::vector<Note> notes;
  std::optional<InFlight> flight = s.in_flight;
  if (flight && flight->action == r.action) s.in_flight.reset();
  s.last_result = r;
  s.last_result_at = now;
  if (r.action == ActionKind::kCompact) {
    s.compact_effective = r.outcome == Outcome::kOk && r.freed_bytes >= compactEnough(p);
  }

  std::string problem;
  if (r.outcome != Outcome::kOk) {
    problem = std::string(config::toString(r.action)) + " " + toString(r.outcome);
    if (!r.error.empty()) problem += " (" + r.error + ")";
  } else if (s.episode.active && s.episode.last_action == r.action &&
             r.freed_bytes < s.episode.min_freed) {
    problem = std::string(config::toString(r.action)) + " freed " + formatBytes(r.freed_bytes) +
              " < min_freed " + formatBytes(s.episode.min_freed);
  }
  if (problem.empty()) return notes;

  auto fields = baseFields(p, s.last_bytes.value_or(0));
  fields["action"] = config::toString(r.action);
  fields["outcome"] = toString(r.outcome);
  fields["freed"] = std::to_string(r.freed_bytes);
  const bool from_predictor = flight && flight->trigger == Trigger::kPredictive;
  if (r.action == ActionKind::kRestart) {
    // A failed restart is not retried in a loop: the episode stops here until the figure
    // falls (or the bot comes back through onBotStarted).
    s.episode.escalate_now = false;
    s.episode.last_outcome = problem;
    s.restart_blocked = true;
    notes.push_back(makeNote(Level::kError, "action_result",
                             problem + "; no restart until the figure falls below the limit or the bot restarts",
                             fields));
  } else if (s.episode.active && s.episode.last_action == r.action && !from_predictor) {
    s.episode.escalate_now = p.escalation.enabled;
    s.episode.last_outcome = problem;
    notes.push_back(makeNote(Level::kWarn, "action_result",
                             problem + (p.escalation.enabled
                                            ? "; escalating if still at or above " + formatBytes(s.episode.at_bytes)
                                            : "; escalation is off"),
                             fields));
  } else {
    notes.push_back(makeNote(Level::kWarn, "action_result", problem, fields));
  }
  return notes;
}

Decision step(PolicyState& s, const Sample& sample, const BotPolicy& p, TimePoint now) {
  Decision d;
  StepContext c{s, p, now, sample.bytes, p.limit, p.hysteresis.resolve(p.limit),
                std::string(config::toString(p.metric)) + " " + formatBytes(sample.bytes)};

  // A reload may have changed the ladder: start its bookkeeping afresh.
  if (s.thresholds.size() != p.thresholds.size()) {
    s.thresholds.assign(p.thresholds.size(), ThresholdState{});
    s.episode = Episode{};
  }
  if (s.periodic_last.size() != p.periodic.size()) s.periodic_last.assign(p.periodic.size(), now);

  s.last_bytes = c.bytes;
  s.window.emplace_back(now, c.bytes);
  trimWindow(s, p, now);

  // An action whose result never came is a timeout (the daemon should have said so).
  if (s.in_flight && s.in_flight->action != ActionKind::kRestart &&
      now - s.in_flight->since > 2 * s.in_flight->deadline + std::chrono::seconds(1)) {
    ActionResult timeout{s.in_flight->action, Outcome::kTimeout, 0, "no result reported"};
    for (auto& n : onActionResult(s, timeout, p, now)) d.notes.push_back(std::move(n));
  }

  trackThresholds(c, d);
  // The episode is over once the figure is back below the threshold it answered: the action
  // worked. Climbing again is a new crossing, gated by that threshold's hysteresis.
  if (s.episode.active && c.bytes < s.episode.at_bytes) s.episode = Episode{};
  if (s.restart_blocked && c.bytes < c.limit - c.hyst) s.restart_blocked = false;
  if (s.compact_retried_at_limit && c.bytes < c.limit - c.hyst) s.compact_retried_at_limit = false;

  if (hardCeiling(c, d)) return d;
  alertThresholds(c, d);
  if (s.in_flight) return d;  // one action at a time; its result decides what comes next
  const std::string no_restart = restartBlocked(s, p, now);
  // At the limit a compact that worked comes again before anything drastic, whatever
  // crossing, cooldown or escalation would otherwise decide.
  if (compactAtLimit(c, d)) return d;
  if (crossedThresholds(c, d, no_restart)) return d;
  if (escalation(c, d, no_restart)) return d;
  if (prediction(c, d)) return d;
  periodic(c, d, !no_restart.empty());
  return d;
}

}  // namespace memvisor::policy
