// The policy's step function and its helpers (see policy.hpp for the contract).
#include "memvisor/policy/policy.hpp"

#include <algorithm>
#include <cmath>

namespace memvisor::policy {
namespace {

using config::formatBytes;
using config::formatDuration;
using config::Threshold;

constexpr std::size_t kMaxWindowSamples = 1024;
constexpr Duration kDefaultWindow = std::chrono::seconds(60);

double secondsBetween(TimePoint a, TimePoint b) {
  return std::chrono::duration<double>(b - a).count();
}

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

bool sustained(const ThresholdState& ts, const Threshold& t, TimePoint now) {
  if (t.sustain.samples > 0) return ts.above_samples >= t.sustain.samples;
  if (t.sustain.duration.count() > 0) {
    return ts.above_since && now - *ts.above_since >= t.sustain.duration;
  }
  return ts.above_samples >= 1;
}

std::string sustainText(const ThresholdState& ts, const Threshold& t, TimePoint now) {
  if (t.sustain.samples > 0) return " for " + std::to_string(ts.above_samples) + " samples";
  if (t.sustain.duration.count() > 0 && ts.above_since) {
    return " for " + formatDuration(std::chrono::duration_cast<Duration>(now - *ts.above_since));
  }
  return "";
}

// "80% of 384 MiB (307.2 MiB)" or "200 MiB".
std::string thresholdText(const Threshold& t, Bytes limit) {
  if (t.at.is_percent) {
    return t.at.toString() + " of " + formatBytes(limit) + " (" + formatBytes(t.at.resolve(limit)) + ")";
  }
  return formatBytes(t.at.bytes);
}

proto::Urgency urgencyFor(ActionKind a, Trigger t) {
  if (t == Trigger::kHardCeiling) return proto::Urgency::kCritical;
  if (t == Trigger::kPeriodic) return proto::Urgency::kLow;
  if (t == Trigger::kEscalation || a == ActionKind::kCompact || a == ActionKind::kRestart) {
    return proto::Urgency::kHigh;
  }
  return proto::Urgency::kNormal;
}

bool coolingDown(const PolicyState& s, ActionKind a, Duration cooldown, TimePoint now) {
  const auto& last = s.last_run[static_cast<int>(a)];
  return last && now - *last < cooldown;
}

std::map<std::string, std::string> baseFields(const BotPolicy& p, Bytes bytes) {
  return {{"metric", config::toString(p.metric)},
          {"figure", std::to_string(bytes)},
          {"limit", std::to_string(p.limit)}};
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
    s.last_run[static_cast<int>(a)] = now;
    s.last_trigger[static_cast<int>(a)] = t;
    s.in_flight = InFlight{a, t, now, in.deadline};
  }
  return in;
}

}  // namespace

std::optional<Bytes> headroomBelowCeiling(const BotPolicy& p, Bytes figure) {
  if (!p.hard_ceiling) return std::nullopt;
  return std::max<Bytes>(0, p.hard_ceiling->resolve(p.limit) - figure);
}

namespace {

Note makeNote(proto::Level level, std::string kind, std::string message,
              std::map<std::string, std::string> fields) {
  return Note{level, std::move(kind), std::move(message), std::move(fields)};
}

void trimWindow(PolicyState& s, const BotPolicy& p, TimePoint now) {
  const Duration window = p.predictive ? p.predictive->window : kDefaultWindow;
  while (!s.window.empty() && now - s.window.front().first > window) s.window.pop_front();
  while (s.window.size() > kMaxWindowSamples) s.window.pop_front();
}

// The action escalation may take after `last`, or nullopt when there is nothing more to try.
// Restart is only reached at or above the limit (below it, a bot that has nothing left to
// free is not restarted for it), and only when the ladder has no restart threshold of its
// own: then restart comes where the config puts it, with that threshold's sustain.
std::optional<ActionKind> escalationStep(ActionKind last, const BotPolicy& p, Bytes bytes) {
  ActionKind next = config::nextActionUp(last);
  if (static_cast<int>(next) > static_cast<int>(p.escalation.max_action)) next = p.escalation.max_action;
  const bool ladder_restarts =
      std::any_of(p.thresholds.begin(), p.thresholds.end(),
                  [](const Threshold& t) { return t.action == ActionKind::kRestart; });
  if (next == ActionKind::kRestart && (bytes < p.limit || ladder_restarts)) next = ActionKind::kCompact;
  if (static_cast<int>(next) <= static_cast<int>(last)) return std::nullopt;
  return next;
}

// The cooldown of the ladder's rung for action `a` (its first threshold's), or `fallback`.
Duration rungCooldown(const BotPolicy& p, ActionKind a, Duration fallback) {
  for (const auto& t : p.thresholds) {
    if (t.action == a) return t.cooldown;
  }
  return fallback;
}

// What "the last compact freed enough" means: at least the compact rung's min_freed (and
// something at all).
Bytes compactEnough(const BotPolicy& p) {
  for (const auto& t : p.thresholds) {
    if (t.action == ActionKind::kCompact) return std::max<Bytes>(1, t.min_freed);
  }
  return 1;
}

// From `a` up the ladder, the first action not cooling down, within escalation.max_action
// and the restart rules of escalationStep; nullopt when every allowed rung is cooling down.
std::optional<ActionKind> firstReady(const PolicyState& s, const BotPolicy& p, ActionKind a,
                                     Bytes bytes, Duration fallback, TimePoint now) {
  ActionKind x = a;
  while (coolingDown(s, x, rungCooldown(p, x, fallback), now)) {
    if (!p.escalation.enabled) return std::nullopt;
    auto up = escalationStep(x, p, bytes);
    if (!up) return std::nullopt;
    x = *up;
  }
  return x;
}

// At or above the limit, a bot whose last compact worked is compacted again before a restart.
bool compactBeforeRestart(const PolicyState& s, const BotPolicy& p, Bytes bytes) {
  return bytes >= p.limit && s.compact_effective && !s.compact_retried_at_limit &&
         static_cast<int>(p.escalation.max_action) >= static_cast<int>(ActionKind::kCompact);
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

proto::JournalEntry toJournalEntry(const Note& n, const std::string& bot, std::int64_t ts_ms) {
  proto::JournalEntry e;
  e.ts_ms = ts_ms;
  e.bot = bot;
  e.kind = n.kind;
  e.level = n.level;
  e.message = n.message;
  e.fields = n.fields;
  return e;
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
    notes.push_back(makeNote(proto::Level::kError, "action_result",
                             problem + "; no restart until the figure falls below the limit or the bot restarts",
                             fields));
  } else if (s.episode.active && s.episode.last_action == r.action && !from_predictor) {
    s.episode.escalate_now = p.escalation.enabled;
    s.episode.last_outcome = problem;
    notes.push_back(makeNote(proto::Level::kWarn, "action_result",
                             problem + (p.escalation.enabled
                                            ? "; escalating if still at or above " + formatBytes(s.episode.at_bytes)
                                            : "; escalation is off"),
                             fields));
  } else {
    notes.push_back(makeNote(proto::Level::kWarn, "action_result", problem, fields));
  }
  return notes;
}

Decision step(PolicyState& s, const Sample& sample, const BotPolicy& p, TimePoint now) {
  Decision d;
  const Bytes bytes = sample.bytes;
  const Bytes limit = p.limit;
  const Bytes hyst = p.hysteresis.resolve(limit);
  const std::string metric = config::toString(p.metric);
  const std::string figure = metric + " " + formatBytes(bytes);

  // A reload may have changed the ladder: start its bookkeeping afresh.
  if (s.thresholds.size() != p.thresholds.size()) {
    s.thresholds.assign(p.thresholds.size(), ThresholdState{});
    s.episode = Episode{};
  }
  if (s.periodic_last.size() != p.periodic.size()) s.periodic_last.assign(p.periodic.size(), now);

  s.last_bytes = bytes;
  s.window.emplace_back(now, bytes);
  trimWindow(s, p, now);

  // An action whose result never came is a timeout (the daemon should have said so).
  if (s.in_flight && s.in_flight->action != ActionKind::kRestart &&
      now - s.in_flight->since > 2 * s.in_flight->deadline + std::chrono::seconds(1)) {
    ActionResult timeout{s.in_flight->action, Outcome::kTimeout, 0, "no result reported"};
    for (auto& n : onActionResult(s, timeout, p, now)) d.notes.push_back(std::move(n));
  }

  // Threshold bookkeeping: sustain counters and hysteresis re-arming.
  for (std::size_t i = 0; i < p.thresholds.size(); ++i) {
    const Threshold& t = p.thresholds[i];
    ThresholdState& ts = s.thresholds[i];
    const Bytes at = t.at.resolve(limit);
    if (bytes >= at) {
      ++ts.above_samples;
      if (!ts.above_since) ts.above_since = now;
      continue;
    }
    ts.above_samples = 0;
    ts.above_since.reset();
    if (!ts.armed && bytes < at - hyst) {
      ts.armed = true;
      ts.rearmed_at = now;
      auto f = baseFields(p, bytes);
      f["threshold"] = t.at.toString();
      f["threshold_bytes"] = std::to_string(at);
      d.notes.push_back(makeNote(proto::Level::kInfo, "recovered",
                                 figure + " fell below " + thresholdText(t, limit) + " - " +
                                     formatBytes(hyst) + ": " + config::toString(t.action) +
                                     " threshold re-armed",
                                 f));
    }
  }
  // The episode is over once the figure is back below the threshold it answered: the action
  // worked. Climbing again is a new crossing, gated by that threshold's hysteresis.
  if (s.episode.active && bytes < s.episode.at_bytes) s.episode = Episode{};
  if (s.restart_blocked && bytes < limit - hyst) s.restart_blocked = false;
  if (s.compact_retried_at_limit && bytes < limit - hyst) s.compact_retried_at_limit = false;

  // Hard ceiling: restart at once, even during the start-up grace and even while another
  // action is in flight: past this figure the kernel's OOM killer is the next thing to come,
  // and a restart memvisord controls loses less than a SIGKILL from the kernel.
  if (p.hard_ceiling) {
    const Bytes ceiling = p.hard_ceiling->resolve(limit);
    if (bytes >= ceiling && !s.ceiling_fired) {
      s.ceiling_fired = true;
      std::string reason = figure + " >= hard ceiling " + p.hard_ceiling->toString() + " (" +
                           formatBytes(ceiling) + "): restart without waiting for cooperation";
      if (s.in_flight) reason += std::string(" (") + config::toString(s.in_flight->action) + " still in flight)";
      Intent in = makeIntent(s, p, ActionKind::kRestart, Trigger::kHardCeiling, reason, bytes, now);
      in.fields["threshold"] = p.hard_ceiling->toString();
      in.fields["threshold_bytes"] = std::to_string(ceiling);
      d.notes.push_back(makeNote(proto::Level::kError, "threshold", reason, in.fields));
      d.actions.push_back(std::move(in));
      return d;
    }
    if (bytes < ceiling - hyst) s.ceiling_fired = false;
  }

  // Alert thresholds: journal only, never wait for anything.
  for (std::size_t i = 0; i < p.thresholds.size(); ++i) {
    const Threshold& t = p.thresholds[i];
    ThresholdState& ts = s.thresholds[i];
    if (t.action != ActionKind::kAlert || !ts.armed || !sustained(ts, t, now)) continue;
    ts.armed = false;
    const std::string reason = figure + " >= alert threshold " + thresholdText(t, limit) + sustainText(ts, t, now);
    Intent in = makeIntent(s, p, ActionKind::kAlert, Trigger::kThreshold, reason, bytes, now);
    in.fields["threshold"] = t.at.toString();
    in.fields["threshold_bytes"] = std::to_string(t.at.resolve(limit));
    d.notes.push_back(makeNote(proto::Level::kWarn, "threshold", reason, in.fields));
    d.actions.push_back(std::move(in));
  }

  if (s.in_flight) return d;  // one action at a time; its result decides what comes next
  const std::string no_restart = restartBlocked(s, p, now);
  const bool grace = !no_restart.empty();

  // 1. Thresholds newly crossed (armed and sustained): the most severe action among them.
  std::optional<std::size_t> origin;
  ActionKind action = ActionKind::kAlert;
  for (std::size_t i = 0; i < p.thresholds.size(); ++i) {
    const Threshold& t = p.thresholds[i];
    if (t.action == ActionKind::kAlert || !s.thresholds[i].armed || !sustained(s.thresholds[i], t, now)) continue;
    if (!origin || static_cast<int>(t.action) >= static_cast<int>(action)) {
      origin = i;
      action = t.action;
    }
  }
  if (origin) {
    const Threshold& t = p.thresholds[*origin];
    const Bytes at = t.at.resolve(limit);
    std::string reason = figure + " >= " + config::toString(t.action) + " threshold " +
                         thresholdText(t, limit) + sustainText(s.thresholds[*origin], t, now);
    std::string previous;
    if (s.episode.active && s.episode.escalate_now && bytes >= s.episode.at_bytes) {
      if (auto up = escalationStep(s.episode.last_action, p, bytes);
          up && static_cast<int>(*up) > static_cast<int>(action)) {
        action = *up;
        previous = s.episode.last_outcome;
        reason += "; " + previous + ", so " + config::toString(action);
      }
    }
    // A rung still cooling down is skipped, not waited for: waiting for it while the bot
    // regrows walks it into the hard ceiling. At the limit a compact that worked comes back
    // before anything drastic.
    // An action that brought the figure back below this threshold's re-arm level worked: its
    // cooldown does not hold it back, and a new crossing gets it again (issue 9).
    const auto worked = [&](ActionKind a) {
      const auto& ran = s.last_run[static_cast<int>(a)];
      const auto& rearmed = s.thresholds[*origin].rearmed_at;
      return ran && rearmed && *rearmed > *ran;
    };
    bool retry_compact = false;
    const auto& ran_by = s.last_trigger[static_cast<int>(action)];
    if (!worked(action) && coolingDown(s, action, t.cooldown, now) &&
        action != ActionKind::kRestart) {
      if (static_cast<int>(action) <= static_cast<int>(ActionKind::kCompact) &&
          compactBeforeRestart(s, p, bytes)) {
        retry_compact = true;
      } else if (ran_by != Trigger::kThreshold && ran_by != Trigger::kEscalation) {
        // Housekeeping ran it: no sign that it fails; wait for its cooldown (below).
      } else if (auto ready = firstReady(s, p, action, bytes, t.cooldown, now); ready && *ready != action) {
        reason += std::string("; ") + config::toString(action) + " is cooling down, so " +
                  config::toString(*ready);
        action = *ready;
      }
    }
    if (action == ActionKind::kRestart && !grace && compactBeforeRestart(s, p, bytes)) {
      retry_compact = true;
    }
    if (retry_compact) {
      s.compact_retried_at_limit = true;
      action = ActionKind::kCompact;
      reason += "; the last compact freed at least " + formatBytes(compactEnough(p)) +
                ": compact again before any restart";
      // The thresholds stay armed: if this compact does not help, the restart still comes.
      Intent in = makeIntent(s, p, action, Trigger::kThreshold, reason, bytes, now);
      in.fields["threshold"] = t.at.toString();
      in.fields["threshold_bytes"] = std::to_string(at);
      s.episode = Episode{true, Trigger::kThreshold, *origin, at, t.cooldown, t.min_freed, action, now, false, ""};
      d.notes.push_back(makeNote(proto::Level::kWarn, "threshold", reason, in.fields));
      d.actions.push_back(std::move(in));
      return d;
    }
    if (action == ActionKind::kRestart && grace) {
      // Start-up grace: no restart, but the bot still gets the strongest other action.
      if (!s.restart_deferred) {
        s.restart_deferred = true;
        auto f = baseFields(p, bytes);
        f["threshold"] = t.at.toString();
        d.notes.push_back(makeNote(
            proto::Level::kWarn, "deferred",
            reason + ": restart deferred, " + no_restart, f));
      }
      action = ActionKind::kCompact;
      reason += " (restart deferred: " + no_restart + "; compact instead)";
      if (coolingDown(s, action, t.cooldown, now)) return d;
      // The restart threshold stays armed, so it fires once the grace is over.
      Intent in = makeIntent(s, p, action, Trigger::kThreshold, reason, bytes, now);
      in.fields["threshold"] = t.at.toString();
      in.fields["threshold_bytes"] = std::to_string(at);
      s.episode = Episode{true, Trigger::kThreshold, *origin, at, t.cooldown, t.min_freed, action, now, false, ""};
      d.actions.push_back(std::move(in));
      return d;
    }
    // The cooldown holds back an action that did not work; it fires when the cooldown ends.
    if (!worked(action) && coolingDown(s, action, t.cooldown, now)) return d;
    for (std::size_t i = 0; i < p.thresholds.size(); ++i) {
      // Lower thresholds crossed together are covered by this action.
      if (p.thresholds[i].action != ActionKind::kAlert && s.thresholds[i].armed &&
          sustained(s.thresholds[i], p.thresholds[i], now) && p.thresholds[i].at.resolve(limit) <= at) {
        s.thresholds[i].armed = false;
      }
    }
    s.restart_deferred = false;
    Intent in = makeIntent(s, p, action, Trigger::kThreshold, reason, bytes, now);
    in.fields["threshold"] = t.at.toString();
    in.fields["threshold_bytes"] = std::to_string(at);
    if (!previous.empty()) in.fields["previous"] = previous;
    s.episode = Episode{true, Trigger::kThreshold, *origin, at, t.cooldown, t.min_freed, action, now, false, ""};
    d.notes.push_back(makeNote(action == ActionKind::kRestart ? proto::Level::kError : proto::Level::kWarn,
                               "threshold", reason, in.fields));
    d.actions.push_back(std::move(in));
    return d;
  }

  // 2. Escalation: the episode's last action failed or freed too little, or the figure is
  // still at or above the threshold once the cooldown has passed.
  Episode& ep = s.episode;
  if (ep.active && p.escalation.enabled && bytes >= ep.at_bytes &&
      (ep.escalate_now || now - ep.acted_at >= ep.cooldown)) {
    std::string why = ep.escalate_now
                          ? ep.last_outcome
                          : std::string(config::toString(ep.last_action)) + " " +
                                formatDuration(std::chrono::duration_cast<Duration>(now - ep.acted_at)) +
                                " ago left " + figure + " >= " + formatBytes(ep.at_bytes);
    std::optional<ActionKind> next = escalationStep(ep.last_action, p, bytes);
    if (!next && !ep.escalate_now && ep.last_action != ActionKind::kRestart) {
      next = ep.last_action;  // at the top of the ladder: repeat each cooldown while it helps
    }
    if (!next) {
      if (!ep.last_outcome.empty() || ep.escalate_now) {
        auto f = baseFields(p, bytes);
        f["previous"] = ep.last_outcome;
        // Say what really holds restart back (the old text claimed "restart needs the limit"
        // at figures above the limit).
        std::string held;
        const bool ladder_restarts =
            std::any_of(p.thresholds.begin(), p.thresholds.end(),
                        [](const Threshold& t) { return t.action == ActionKind::kRestart; });
        if (static_cast<int>(p.escalation.max_action) < static_cast<int>(ActionKind::kRestart)) {
          held = std::string("escalation stops at ") + config::toString(p.escalation.max_action);
        } else if (bytes < limit) {
          held = "restart needs the limit, " + formatBytes(limit);
        } else if (grace) {
          held = "restart deferred: " + no_restart;
        } else if (ladder_restarts) {
          held = "restart is left to the restart threshold and its sustain";
        } else {
          held = "restart is not allowed";
        }
        d.notes.push_back(makeNote(proto::Level::kWarn, "escalation",
                                   why + "; nothing stronger than " + config::toString(ep.last_action) +
                                       " at " + formatBytes(bytes) + " (" + held +
                                       "): waiting for the figure to change",
                                   f));
      }
      ep.active = false;  // exhausted: a higher threshold or a re-arm starts a new episode
      return d;
    }
    if (*next == ActionKind::kRestart && grace) {
      if (!s.restart_deferred) {
        s.restart_deferred = true;
        d.notes.push_back(makeNote(proto::Level::kWarn, "deferred",
                                   why + ": restart deferred, " + no_restart, baseFields(p, bytes)));
      }
      return d;
    }
    std::string skipped;
    if (*next == ActionKind::kRestart && compactBeforeRestart(s, p, bytes)) {
      s.compact_retried_at_limit = true;
      next = ActionKind::kCompact;
      skipped = "; the last compact freed at least " + formatBytes(compactEnough(p)) +
                ": compact again before any restart";
    } else if (coolingDown(s, *next, ep.cooldown, now) && !ep.escalate_now) {
      if (*next == ActionKind::kCompact && compactBeforeRestart(s, p, bytes)) {
        s.compact_retried_at_limit = true;
        skipped = "; at the limit, the last compact freed at least " +
                  formatBytes(compactEnough(p)) + ": compact again";
      } else {
        auto ready = firstReady(s, p, *next, bytes, ep.cooldown, now);
        if (!ready || (*ready == ActionKind::kRestart && grace)) return d;
        skipped = std::string("; ") + config::toString(*next) + " is cooling down, so " +
                  config::toString(*ready);
        next = ready;
      }
    }
    const std::string reason = why + "; escalating " + config::toString(ep.last_action) + " -> " +
                               config::toString(*next) + skipped;
    Intent in = makeIntent(s, p, *next, Trigger::kEscalation, reason, bytes, now);
    in.fields["previous"] = ep.escalate_now ? ep.last_outcome : config::toString(ep.last_action);
    in.fields["threshold_bytes"] = std::to_string(ep.at_bytes);
    ep.last_action = *next;
    ep.acted_at = now;
    ep.escalate_now = false;
    ep.last_outcome.clear();
    s.restart_deferred = false;
    d.notes.push_back(makeNote(*next == ActionKind::kRestart ? proto::Level::kError : proto::Level::kWarn,
                               "escalation", reason, in.fields));
    d.actions.push_back(std::move(in));
    return d;
  }

  // 3. Prediction: the limit is less than `horizon` away at the growth of the window.
  if (p.predictive && bytes < limit) {
    const double rate = growthRate(s);
    const double eta = rate > 0 ? static_cast<double>(limit - bytes) / rate : -1.0;
    const double horizon = std::chrono::duration<double>(p.predictive->horizon).count();
    if (rate > 0 && eta < horizon) {
      if (!s.predictive_last || now - *s.predictive_last >= p.predictive->cooldown) {
        ActionKind a = s.predictive_next;
        char buf[160];
        std::snprintf(buf, sizeof buf, "%s growing %s/s: the limit %s is %.0fs away (< %s)",
                      figure.c_str(), formatBytes(static_cast<Bytes>(rate)).c_str(),
                      formatBytes(limit).c_str(), eta, formatDuration(p.predictive->horizon).c_str());
        Intent in = makeIntent(s, p, a, Trigger::kPredictive, buf, bytes, now);
        in.fields["growth_bytes_per_s"] = std::to_string(static_cast<Bytes>(rate));
        in.fields["eta_s"] = std::to_string(static_cast<std::int64_t>(eta));
        s.predictive_last = now;
        // The prediction holding again after a cooldown means this action did not stop the
        // growth: the next one goes a step up (never to restart: a prediction alone never
        // restarts).
        if (a != ActionKind::kAlert && p.escalation.enabled) {
          ActionKind up = config::nextActionUp(a);
          if (up == ActionKind::kRestart) up = ActionKind::kCompact;
          if (static_cast<int>(up) > static_cast<int>(p.escalation.max_action)) up = a;
          s.predictive_next = up;
        }
        d.notes.push_back(makeNote(proto::Level::kWarn, "predictive", in.reason, in.fields));
        d.actions.push_back(std::move(in));
        return d;
      }
    } else {
      s.predictive_next = p.predictive->action;
    }
  }

  // 4. Periodic housekeeping (the seed's "trim every 15 minutes").
  for (std::size_t j = 0; j < p.periodic.size(); ++j) {
    const auto& per = p.periodic[j];
    if (now - s.periodic_last[j] < per.every) continue;
    s.periodic_last[j] = now;
    if (per.above && bytes < per.above->resolve(limit)) continue;  // nothing to do this round
    if (per.action == ActionKind::kRestart && grace) continue;
    std::string reason = std::string("periodic ") + config::toString(per.action) + " every " +
                         formatDuration(per.every);
    if (per.above) reason += " (" + figure + " >= " + formatBytes(per.above->resolve(limit)) + ")";
    Intent in = makeIntent(s, p, per.action, Trigger::kPeriodic, reason, bytes, now);
    d.actions.push_back(std::move(in));
    return d;
  }
  return d;
}

}  // namespace memvisor::policy
