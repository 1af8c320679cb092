// Internal to the policy: what every trigger of one step() sees, the helpers they share,
// and one function per trigger (oomd-detector style), in the order step() runs them.
#pragma once

#include <map>
#include <string>

#include "memvisor/policy/policy.hpp"

namespace memvisor::policy::detail {

// One step's inputs, computed once: the figure, the limit and the hysteresis in bytes.
struct StepContext {
  PolicyState& s;
  const BotPolicy& p;
  TimePoint now;
  Bytes bytes = 0;
  Bytes limit = 0;
  Bytes hyst = 0;
  std::string figure;  // "rss 312.0 MiB"
};

// ---- helpers shared by the triggers and onActionResult ------------------------------------

std::map<std::string, std::string> baseFields(const BotPolicy& p, Bytes bytes);
Note makeNote(Level level, std::string kind, std::string message,
              std::map<std::string, std::string> fields);
// An action intent; every non-alert one becomes the in-flight action and starts its cooldown.
Intent makeIntent(PolicyState& s, const BotPolicy& p, ActionKind a, Trigger t, std::string reason,
                  Bytes bytes, TimePoint now);
// What "the last compact freed enough" means: at least the compact rung's min_freed (and
// something at all).
Bytes compactEnough(const BotPolicy& p);

// ---- the triggers ---------------------------------------------------------------------------
// Each returns true when step() ends with it (it acted, or it owns this step's decision).

// Sustain counters and hysteresis re-arming of every threshold; never ends the step.
void trackThresholds(StepContext& c, Decision& d);
// Restart at once above the hard ceiling, even in grace and with an action in flight.
bool hardCeiling(StepContext& c, Decision& d);
// Alert thresholds journal and never wait; never ends the step.
void alertThresholds(StepContext& c, Decision& d);
// The most severe armed, sustained threshold (raised by a pending escalation).
bool crossedThresholds(StepContext& c, Decision& d, const std::string& no_restart);
// At the limit, a bot whose last compact freed its min_freed is compacted again at once, before
// the restart threshold's sustain or any cooldown (once per time at the limit).
bool compactAtLimit(StepContext& c, Decision& d);
// The episode's action failed, freed too little, or the cooldown passed still above.
bool escalation(StepContext& c, Decision& d, const std::string& no_restart);
// The limit is less than the horizon away at the window's growth.
bool prediction(StepContext& c, Decision& d);
// Housekeeping every N, skipped below its floor.
bool periodic(StepContext& c, Decision& d, bool grace);

}  // namespace memvisor::policy::detail
