// The policy's triggers, one function each (see step_context.hpp; semantics in policy.hpp).
#include <algorithm>
#include <cstdio>

#include "step_context.hpp"

namespace memvisor::policy::detail {
namespace {

using config::formatBytes;
using config::ladderOf;
using config::formatDuration;
using config::Threshold;

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

bool coolingDown(const PolicyState& s, ActionKind a, Duration cooldown, TimePoint now) {
  const auto& last = s.last_run[memvisor::actionIndex(a)];
  return last && now - *last < cooldown;
}

// The intent answers a threshold at `at`: typed for the daemon, as text for the journal.
void answers(Intent& in, const std::string& threshold, Bytes at) {
  if (!threshold.empty()) in.fields["threshold"] = threshold;
  in.fields["threshold_bytes"] = std::to_string(at);
  in.threshold_bytes = at;
}

// The action escalation may take after `last`, or nullopt when there is nothing more to try.
// Restart is only reached at or above the limit (below it, a bot that has nothing left to
// free is not restarted for it), and only when the ladder has no restart threshold of its
// own: then restart comes where the config puts it, with that threshold's sustain.
std::optional<ActionKind> escalationStep(ActionKind last, const BotPolicy& p, Bytes bytes) {
  ActionKind next = config::nextActionUp(last);
  if (ladderOf(next) > ladderOf(p.escalation.max_action)) next = p.escalation.max_action;
  const bool ladder_restarts =
      std::any_of(p.thresholds.begin(), p.thresholds.end(),
                  [](const Threshold& t) { return t.action == ActionKind::kRestart; });
  if (next == ActionKind::kRestart && (bytes < p.limit || ladder_restarts)) next = ActionKind::kCompact;
  if (ladderOf(next) <= ladderOf(last)) return std::nullopt;
  return next;
}

// The cooldown of the ladder's rung for action `a` (its first threshold's), or `fallback`.
Duration rungCooldown(const BotPolicy& p, ActionKind a, Duration fallback) {
  for (const auto& t : p.thresholds) {
    if (t.action == a) return t.cooldown;
  }
  return fallback;
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
         ladderOf(p.escalation.max_action) >= ladderOf(ActionKind::kCompact);
}

}  // namespace

void trackThresholds(StepContext& c, Decision& d) {
  PolicyState& s = c.s;
  const BotPolicy& p = c.p;
  for (std::size_t i = 0; i < p.thresholds.size(); ++i) {
    const Threshold& t = p.thresholds[i];
    ThresholdState& ts = s.thresholds[i];
    const Bytes at = t.at.resolve(c.limit);
    if (c.bytes >= at) {
      ++ts.above_samples;
      if (!ts.above_since) ts.above_since = c.now;
      continue;
    }
    ts.above_samples = 0;
    ts.above_since.reset();
    if (c.bytes >= at - c.hyst) continue;  // between the re-arm level and the threshold
    ts.below_rearm_at = c.now;
    if (!ts.armed) {
      ts.armed = true;
      auto f = baseFields(p, c.bytes);
      f["threshold"] = t.at.toString();
      f["threshold_bytes"] = std::to_string(at);
      d.notes.push_back(makeNote(Level::kInfo, "recovered",
                                 c.figure + " fell below " + thresholdText(t, c.limit) + " - " +
                                     formatBytes(c.hyst) + ": " + config::toString(t.action) +
                                     " threshold re-armed",
                                 f));
    }
  }
}

// Past this figure the kernel's OOM killer is the next thing to come, and a restart
// memvisord controls loses less than a SIGKILL from the kernel.
bool hardCeiling(StepContext& c, Decision& d) {
  PolicyState& s = c.s;
  const BotPolicy& p = c.p;
  if (!p.hard_ceiling) return false;
  const Bytes ceiling = p.hard_ceiling->resolve(c.limit);
  if (c.bytes >= ceiling && !s.ceiling_fired) {
    s.ceiling_fired = true;
    std::string reason = c.figure + " >= hard ceiling " + p.hard_ceiling->toString() + " (" +
                         formatBytes(ceiling) + "): restart without waiting for cooperation";
    if (s.in_flight) reason += std::string(" (") + config::toString(s.in_flight->action) + " still in flight)";
    Intent in = makeIntent(s, p, ActionKind::kRestart, Trigger::kHardCeiling, reason, c.bytes, c.now);
    answers(in, p.hard_ceiling->toString(), ceiling);
    d.notes.push_back(makeNote(Level::kError, "threshold", reason, in.fields));
    d.actions.push_back(std::move(in));
    return true;
  }
  if (c.bytes < ceiling - c.hyst) s.ceiling_fired = false;
  return false;
}

void alertThresholds(StepContext& c, Decision& d) {
  PolicyState& s = c.s;
  const BotPolicy& p = c.p;
  for (std::size_t i = 0; i < p.thresholds.size(); ++i) {
    const Threshold& t = p.thresholds[i];
    ThresholdState& ts = s.thresholds[i];
    if (t.action != ActionKind::kAlert || !ts.armed || !sustained(ts, t, c.now)) continue;
    ts.armed = false;
    const std::string reason =
        c.figure + " >= alert threshold " + thresholdText(t, c.limit) + sustainText(ts, t, c.now);
    Intent in = makeIntent(s, p, ActionKind::kAlert, Trigger::kThreshold, reason, c.bytes, c.now);
    answers(in, t.at.toString(), t.at.resolve(c.limit));
    d.notes.push_back(makeNote(Level::kWarn, "threshold", reason, in.fields));
    d.actions.push_back(std::move(in));
  }
}

bool crossedThresholds(StepContext& c, Decision& d, const std::string& no_restart) {
  PolicyState& s = c.s;
  const BotPolicy& p = c.p;
  const bool grace = !no_restart.empty();
  std::optional<std::size_t> origin;
  ActionKind action = ActionKind::kAlert;
  for (std::size_t i = 0; i < p.thresholds.size(); ++i) {
    const Threshold& t = p.thresholds[i];
    if (t.action == ActionKind::kAlert || !s.thresholds[i].armed || !sustained(s.thresholds[i], t, c.now)) continue;
    if (!origin || ladderOf(t.action) >= ladderOf(action)) {
      origin = i;
      action = t.action;
    }
  }
  if (!origin) return false;
  const Threshold& t = p.thresholds[*origin];
  const Bytes at = t.at.resolve(c.limit);
  std::string reason = c.figure + " >= " + config::toString(t.action) + " threshold " +
                       thresholdText(t, c.limit) + sustainText(s.thresholds[*origin], t, c.now);
  std::string previous;
  if (s.episode.active && s.episode.escalate_now && c.bytes >= s.episode.at_bytes) {
    if (auto up = escalationStep(s.episode.last_action, p, c.bytes);
        up && ladderOf(*up) > ladderOf(action)) {
      action = *up;
      previous = s.episode.last_outcome;
      reason += "; " + previous + ", so " + config::toString(action);
    }
  }
  // A rung still cooling down is skipped, not waited for: waiting for it while the bot
  // regrows walks it into the hard ceiling. (At the limit, a compact that worked has already
  // come back: compactAtLimit runs first.)
  // An action that brought the figure back below this threshold's re-arm level worked: its
  // cooldown does not hold it back, and a new crossing gets it again (issue 9).
  const auto worked = [&](ActionKind a) {
    const auto& ran = s.last_run[memvisor::actionIndex(a)];
    const auto& below = s.thresholds[*origin].below_rearm_at;
    return ran && below && *below > *ran;
  };
  const auto& ran_by = s.last_trigger[memvisor::actionIndex(action)];
  if (!worked(action) && coolingDown(s, action, t.cooldown, c.now) && action != ActionKind::kRestart) {
    if (ran_by != Trigger::kThreshold && ran_by != Trigger::kEscalation) {
      // Housekeeping ran it: no sign that it fails; wait for its cooldown (below).
    } else if (auto ready = firstReady(s, p, action, c.bytes, t.cooldown, c.now); ready && *ready != action) {
      reason += std::string("; ") + config::toString(action) + " is cooling down, so " +
                config::toString(*ready);
      action = *ready;
    }
  }
  if (action == ActionKind::kRestart && grace) {
    // Start-up grace: no restart, but the bot still gets the strongest other action.
    if (!s.restart_deferred) {
      s.restart_deferred = true;
      auto f = baseFields(p, c.bytes);
      f["threshold"] = t.at.toString();
      d.notes.push_back(makeNote(Level::kWarn, "deferred", reason + ": restart deferred, " + no_restart, f));
    }
    action = ActionKind::kCompact;
    reason += " (restart deferred: " + no_restart + "; compact instead)";
    if (coolingDown(s, action, t.cooldown, c.now)) return true;
    // The restart threshold stays armed, so it fires once the grace is over.
    Intent in = makeIntent(s, p, action, Trigger::kThreshold, reason, c.bytes, c.now);
    answers(in, t.at.toString(), at);
    s.episode = Episode{true, Trigger::kThreshold, *origin, at, t.cooldown, t.min_freed, action, c.now, false, ""};
    d.actions.push_back(std::move(in));
    return true;
  }
  // The cooldown holds back an action that did not work; it fires when the cooldown ends.
  if (!worked(action) && coolingDown(s, action, t.cooldown, c.now)) return true;
  for (std::size_t i = 0; i < p.thresholds.size(); ++i) {
    // Lower thresholds crossed together are covered by this action.
    if (p.thresholds[i].action != ActionKind::kAlert && s.thresholds[i].armed &&
        sustained(s.thresholds[i], p.thresholds[i], c.now) && p.thresholds[i].at.resolve(c.limit) <= at) {
      s.thresholds[i].armed = false;
    }
  }
  s.restart_deferred = false;
  Intent in = makeIntent(s, p, action, Trigger::kThreshold, reason, c.bytes, c.now);
  answers(in, t.at.toString(), at);
  if (!previous.empty()) in.fields["previous"] = previous;
  s.episode = Episode{true, Trigger::kThreshold, *origin, at, t.cooldown, t.min_freed, action, c.now, false, ""};
  d.notes.push_back(makeNote(action == ActionKind::kRestart ? Level::kError : Level::kWarn, "threshold",
                             reason, in.fields));
  d.actions.push_back(std::move(in));
  return true;
}

bool compactAtLimit(StepContext& c, Decision& d) {
  PolicyState& s = c.s;
  const BotPolicy& p = c.p;
  if (!compactBeforeRestart(s, p, c.bytes)) return false;
  // The episode's threshold: the restart rung's, else the highest below the limit.
  std::optional<std::size_t> origin;
  for (std::size_t i = 0; i < p.thresholds.size(); ++i) {
    const Threshold& t = p.thresholds[i];
    if (t.action == ActionKind::kAlert || t.at.resolve(c.limit) > c.bytes) continue;
    if (!origin || ladderOf(t.action) >= ladderOf(p.thresholds[*origin].action)) origin = i;
  }
  if (!origin) return false;
  const Threshold& t = p.thresholds[*origin];
  s.compact_retried_at_limit = true;
  const std::string reason = c.figure + " >= the limit " + formatBytes(c.limit) +
                             "; the last compact freed at least " + formatBytes(compactEnough(p)) +
                             ": compact again before any restart";
  Intent in = makeIntent(s, p, ActionKind::kCompact, Trigger::kThreshold, reason, c.bytes, c.now);
  answers(in, t.at.toString(), t.at.resolve(c.limit));
  s.episode = Episode{true, Trigger::kThreshold, *origin, t.at.resolve(c.limit), t.cooldown,
                      t.min_freed, ActionKind::kCompact, c.now, false, ""};
  d.notes.push_back(makeNote(Level::kWarn, "threshold", reason, in.fields));
  d.actions.push_back(std::move(in));
  return true;
}

bool escalation(StepContext& c, Decision& d, const std::string& no_restart) {
  PolicyState& s = c.s;
  const BotPolicy& p = c.p;
  Episode& ep = s.episode;
  if (!ep.active || !p.escalation.enabled || c.bytes < ep.at_bytes ||
      !(ep.escalate_now || c.now - ep.acted_at >= ep.cooldown)) {
    return false;
  }
  std::string why = ep.escalate_now
                        ? ep.last_outcome
                        : std::string(config::toString(ep.last_action)) + " " +
                              formatDuration(std::chrono::duration_cast<Duration>(c.now - ep.acted_at)) +
                              " ago left " + c.figure + " >= " + formatBytes(ep.at_bytes);
  std::optional<ActionKind> next = escalationStep(ep.last_action, p, c.bytes);
  if (!next && !ep.escalate_now && ep.last_action != ActionKind::kRestart) {
    next = ep.last_action;  // at the top of the ladder: repeat each cooldown while it helps
  }
  if (!next) {
    if (!ep.last_outcome.empty() || ep.escalate_now) {
      auto f = baseFields(p, c.bytes);
      f["previous"] = ep.last_outcome;
      // Say what really holds restart back (the old text claimed "restart needs the limit"
      // at figures above the limit).
      std::string held;
      const bool ladder_restarts =
          std::any_of(p.thresholds.begin(), p.thresholds.end(),
                      [](const Threshold& t) { return t.action == ActionKind::kRestart; });
      if (ladderOf(p.escalation.max_action) < ladderOf(ActionKind::kRestart)) {
        held = std::string("escalation stops at ") + config::toString(p.escalation.max_action);
      } else if (c.bytes < c.limit) {
        held = "restart needs the limit, " + formatBytes(c.limit);
      } else if (!no_restart.empty()) {
        held = "restart deferred: " + no_restart;
      } else if (ladder_restarts) {
        held = "restart is left to the restart threshold and its sustain";
      } else {
        held = "restart is not allowed";
      }
      d.notes.push_back(makeNote(Level::kWarn, "escalation",
                                 why + "; nothing stronger than " + config::toString(ep.last_action) +
                                     " at " + formatBytes(c.bytes) + " (" + held +
                                     "): waiting for the figure to change",
                                 f));
    }
    ep.active = false;  // exhausted: a higher threshold or a re-arm starts a new episode
    return true;
  }
  if (*next == ActionKind::kRestart && !no_restart.empty()) {
    if (!s.restart_deferred) {
      s.restart_deferred = true;
      d.notes.push_back(makeNote(Level::kWarn, "deferred", why + ": restart deferred, " + no_restart,
                                 baseFields(p, c.bytes)));
    }
    return true;
  }
  std::string skipped;
  if (coolingDown(s, *next, ep.cooldown, c.now) && !ep.escalate_now) {
    auto ready = firstReady(s, p, *next, c.bytes, ep.cooldown, c.now);
    if (!ready || (*ready == ActionKind::kRestart && !no_restart.empty())) return true;
    skipped = std::string("; ") + config::toString(*next) + " is cooling down, so " +
              config::toString(*ready);
    next = ready;
  }
  const std::string reason = why + "; escalating " + config::toString(ep.last_action) + " -> " +
                             config::toString(*next) + skipped;
  Intent in = makeIntent(s, p, *next, Trigger::kEscalation, reason, c.bytes, c.now);
  in.fields["previous"] = ep.escalate_now ? ep.last_outcome : config::toString(ep.last_action);
  answers(in, "", ep.at_bytes);
  ep.last_action = *next;
  ep.acted_at = c.now;
  ep.escalate_now = false;
  ep.last_outcome.clear();
  s.restart_deferred = false;
  d.notes.push_back(makeNote(*next == ActionKind::kRestart ? Level::kError : Level::kWarn, "escalation",
                             reason, in.fields));
  d.actions.push_back(std::move(in));
  return true;
}

bool prediction(StepContext& c, Decision& d) {
  PolicyState& s = c.s;
  const BotPolicy& p = c.p;
  if (!p.predictive || c.bytes >= c.limit) return false;
  const double rate = growthRate(s);
  const double eta = rate > 0 ? static_cast<double>(c.limit - c.bytes) / rate : -1.0;
  const double horizon = std::chrono::duration<double>(p.predictive->horizon).count();
  if (!(rate > 0 && eta < horizon)) {
    s.predictive_next = p.predictive->action;
    return false;
  }
  if (s.predictive_last && c.now - *s.predictive_last < p.predictive->cooldown) return false;
  ActionKind a = s.predictive_next;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s growing %s/s: the limit %s is %.0fs away (< %s)", c.figure.c_str(),
                formatBytes(static_cast<Bytes>(rate)).c_str(), formatBytes(c.limit).c_str(), eta,
                formatDuration(p.predictive->horizon).c_str());
  Intent in = makeIntent(s, p, a, Trigger::kPredictive, buf, c.bytes, c.now);
  in.fields["growth_bytes_per_s"] = std::to_string(static_cast<Bytes>(rate));
  in.fields["eta_s"] = std::to_string(static_cast<std::int64_t>(eta));
  s.predictive_last = c.now;
  // The prediction holding again after a cooldown means this action did not stop the
  // growth: the next one goes a step up (never to restart: a prediction alone never
  // restarts).
  if (a != ActionKind::kAlert && p.escalation.enabled) {
    ActionKind up = config::nextActionUp(a);
    if (up == ActionKind::kRestart) up = ActionKind::kCompact;
    if (ladderOf(up) > ladderOf(p.escalation.max_action)) up = a;
    s.predictive_next = up;
  }
  d.notes.push_back(makeNote(Level::kWarn, "predictive", in.reason, in.fields));
  d.actions.push_back(std::move(in));
  return true;
}

// The seed's "trim every 15 minutes".
bool periodic(StepContext& c, Decision& d, bool grace) {
  PolicyState& s = c.s;
  const BotPolicy& p = c.p;
  for (std::size_t j = 0; j < p.periodic.size(); ++j) {
    const auto& per = p.periodic[j];
    if (c.now - s.periodic_last[j] < per.every) continue;
    s.periodic_last[j] = c.now;
    if (per.above && c.bytes < per.above->resolve(c.limit)) continue;  // nothing to do this round
    if (per.action == ActionKind::kRestart && grace) continue;
    std::string reason =
        std::string("periodic ") + config::toString(per.action) + " every " + formatDuration(per.every);
    if (per.above) reason += " (" + c.figure + " >= " + formatBytes(per.above->resolve(c.limit)) + ")";
    d.actions.push_back(makeIntent(s, p, per.action, Trigger::kPeriodic, reason, c.bytes, c.now));
    return true;
  }
  return false;
}

}  // namespace memvisor::policy::detail
