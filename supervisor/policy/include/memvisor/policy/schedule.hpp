// Headroom-scheduled sampling: when the daemon takes a bot's next sample. Pure: the policy
// state, the config and `now` in, a delay out.
//
// The guarantee (README, "Detection"): while the bot grows no faster than poll.max_growth,
// the next sample is due no later than the moment it could first reach the nearest figure at
// which the policy decides something (the next threshold, the hard ceiling, the limit). So the
// samples close in on that figure, and the crossing is seen within about poll.min of it:
// an action starts within poll.min (plus the cost of one sample) of the crossing. Faster
// growth is still seen, only later; the observed growth rate, when higher, is used instead.
//
// When the kernel watches every decision figure for the daemon (cgroup v1 thresholds armed
// on the bot's own group at each threshold, the hard ceiling and the limit), the crossing
// wakes the daemon itself, whatever the growth rate: the headroom schedule is then not
// needed, and the bot is sampled every poll.max (sooner for timers and pending thresholds).
// That is what lets one memvisord watch a thousand idle bots for a few per cent of a core.
#pragma once

#include "memvisor/policy/policy.hpp"

namespace memvisor::policy {

struct SampleSchedule {
  Duration delay{0};  // from `now`, within [poll.min, poll.max]
  Bytes target = 0;   // the figure the delay is measured against; 0 when none applies
  // Why this delay: "first" (no sample yet), "pending" (a threshold counts samples or time),
  // "at_limit" (at or above the last decision figure), "headroom", "timer" (a cooldown,
  // periodic action or action deadline falls due sooner), "max", "kernel" (the kernel
  // watches the decision figures).
  const char* why = "max";
};

SampleSchedule nextSample(const PolicyState& s, const BotPolicy& p, TimePoint now,
                          bool kernel_watches = false);

}  // namespace memvisor::policy
