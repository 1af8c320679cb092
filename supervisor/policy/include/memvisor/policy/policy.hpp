// The pure policy core: samples + a bot's PolicyConfig + a time value -> actions with reasons.
// No I/O, no syscalls, no clock reads: the daemon passes `now` and feeds results back.
//
// Semantics, in the order step() applies them:
// - hard ceiling: restart at once, even during the start-up grace and while an action is in
//   flight (past it the kernel OOM killer is next); once per excursion above the ceiling.
// - alert thresholds: journal only, never wait.
// - one action in flight at a time; a result that never comes counts as a timeout after
//   2 x its deadline + 1 s.
// - thresholds: fire when armed and sustained (N samples or a duration); the most severe of
//   those crossed together wins and covers the lower ones; a fired threshold re-arms only
//   below at - hysteresis; an action is not repeated within its threshold's cooldown unless
//   the threshold re-armed since (the action brought the figure below at - hysteresis).
// - escalation (trim -> sweep -> compact -> restart, capped by escalation.max_action): at
//   once when the episode's action failed, timed out, had no session or freed < min_freed;
//   otherwise when the figure is still >= the threshold once the cooldown has passed. A rung
//   still cooling down from its own threshold or escalation run (it did not hold the bot
//   down) is skipped for the next one up (never past the limit's rules); one run by the
//   periodic housekeeping or the predictor is waited for. An
//   episode ends when the figure falls below its threshold. Escalation reaches restart only
//   at or above the limit and only if the ladder has no restart threshold of its own; at
//   the top it repeats the last action each cooldown while that action helps.
// - targets: trim/sweep/compact ask for the bytes down to the lowest action threshold's
//   re-arm level (rearmFloor), so that a goal-directed bot frees that much, not everything.
// - compact before restart: at or above the limit, a bot whose last compact freed at least
//   that rung's min_freed is compacted again (its cooldown notwithstanding) before any
//   restart, once per excursion above limit - hysteresis; the hard ceiling is exempt.
// - start-up grace: no restart (compact instead, the restart threshold stays armed); a
//   failed restart blocks restarts until the figure falls below limit - hysteresis.
// - predictive: least-squares growth over the window; acts when the limit is less than the
//   horizon away; repeated predictions escalate up to compact, never to restart.
// - periodic: every N from start-up, skipped (not postponed) below its `above` floor.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "memvisor/config/config.hpp"

namespace memvisor::policy {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Bytes = config::Bytes;
using Duration = config::Duration;
using ActionKind = config::ActionKind;
using BotPolicy = config::PolicyConfig;

// One measurement of the bot's configured metric (BotPolicy::metric), taken at `now`.
struct Sample {
  Bytes bytes = 0;
};

// The policy's own vocabulary (the daemon translates to the wire's: daemon/policy_wire.hpp).
enum class Urgency { kLow, kNormal, kHigh, kCritical };  // how hard the bot should try
enum class Level { kDebug, kInfo, kWarn, kError };       // of a Note
const char* toString(Urgency u);  // low | normal | high | critical
const char* toString(Level l);    // debug | info | warn | error

enum class Trigger { kThreshold, kEscalation, kPeriodic, kPredictive, kHardCeiling };
const char* toString(Trigger t);  // threshold | escalation | periodic | predictive | hard_ceiling

// The figure below which every trim/sweep/compact threshold of `p` is re-armed: the lowest
// such threshold's `at` minus the hysteresis (limit - hysteresis without such thresholds).
Bytes rearmFloor(const BotPolicy& p);

// One action for the daemon to take. Alerts need no result; every other action must be
// answered with onActionResult (restart: or with onBotStarted once the bot is back).
struct Intent {
  ActionKind action = ActionKind::kTrim;
  Trigger trigger = Trigger::kThreshold;
  Urgency urgency = Urgency::kNormal;
  Duration deadline{0};  // from BotPolicy::deadlines; 0 for alert
  // trim/sweep/compact answering a threshold, an escalation or a prediction: the bytes that
  // take the figure below the lowest action threshold's re-arm level (at - hysteresis), so
  // one action re-arms the whole ladder (protocol 1.1 target_bytes). Absent for periodic
  // actions, restarts and alerts, or when the figure is already below that level.
  std::optional<Bytes> target_bytes;
  // trim/sweep/compact: how far the figure may rise, for a moment, before the hard ceiling
  // restarts the bot (protocol 1.1 headroom_bytes; headroomBelowCeiling). Absent without a
  // hard ceiling.
  std::optional<Bytes> headroom_bytes;
  // The figure this action answers (threshold, hard ceiling or episode threshold); 0 when
  // none (predictive, periodic). The daemon re-checks it right before a restart.
  Bytes threshold_bytes = 0;
  // Journal-ready: "rss 312.0 MiB >= 80% of 384 MiB (307.2 MiB) for 2 samples".
  std::string reason;
  // key=value for the journal line: figure, threshold, limit, previous, ...
  std::map<std::string, std::string> fields;
};

// Bytes between `figure` and the hard ceiling (0 at or above it); nullopt without a hard
// ceiling. A reclaim whose own cost in memory (V8 copying live objects while it compacts)
// would cross the ceiling must not run: the ceiling restarts the bot without asking.
std::optional<Bytes> headroomBelowCeiling(const BotPolicy& p, Bytes figure);

// A journal entry the policy wants written (threshold crossed/cleared, escalation, deferred
// restart, ineffective action). The daemon adds ts_ms and bot and journals it.
struct Note {
  Level level = Level::kInfo;
  std::string kind;  // threshold | recovered | escalation | deferred | action_result
  std::string message;
  std::map<std::string, std::string> fields;
};

struct Decision {
  // At most one of trim/sweep/compact/restart, plus any alerts.
  std::vector<Intent> actions;
  std::vector<Note> notes;
  bool empty() const { return actions.empty() && notes.empty(); }
};

enum class Outcome { kOk, kFailed, kTimeout, kNotConnected, kUnsupported };
const char* toString(Outcome o);  // ok | failed | timeout | not_connected | unsupported

struct ActionResult {
  ActionKind action = ActionKind::kTrim;
  Outcome outcome = Outcome::kOk;
  Bytes freed_bytes = 0;  // measured by the daemon or reported by the bot; may be negative
  std::string error;      // when !kOk, for the reason of the next escalation
};

// ---- state (plain data; owned by the daemon, one per bot) ---------------------------------

struct ThresholdState {
  bool armed = true;
  std::optional<TimePoint> above_since;
  int above_samples = 0;
  // The last sample below at - hysteresis (the re-arm level). Below it after this threshold's
  // action ran, the action worked: a new crossing is not held back by the cooldown (issue 9:
  // under fast growth a sweep that freed its target was blocked for 60 s and the bot hit the
  // ceiling). Kept whether or not the threshold was disarmed: a compact run at the limit
  // leaves the lower thresholds armed, and it worked just the same.
  std::optional<TimePoint> below_rearm_at;
};

// The action the policy is waiting on, and the escalation context it belongs to.
struct InFlight {
  ActionKind action = ActionKind::kTrim;
  Trigger trigger = Trigger::kThreshold;
  TimePoint since{};
  Duration deadline{0};
};

// An escalation episode: started when a threshold (or the predictor) acts, resolved when
// the figure falls below `at_bytes`; escalates on failure, on too little freed, or when the
// figure is still >= at_bytes once `cooldown` has passed since the last action.
struct Episode {
  bool active = false;
  Trigger origin = Trigger::kThreshold;
  std::size_t threshold = 0;  // index into BotPolicy::thresholds (origin threshold)
  Bytes at_bytes = 0;
  Duration cooldown{0};
  Bytes min_freed = 0;
  ActionKind last_action = ActionKind::kTrim;
  TimePoint acted_at{};
  bool escalate_now = false;  // last result failed / freed too little
  std::string last_outcome;   // "trim freed 1.0 MiB < min_freed 8.0 MiB", "sweep timeout"
};

struct PolicyState {
  TimePoint started_at{};
  std::vector<ThresholdState> thresholds;  // resized to BotPolicy::thresholds
  Episode episode;
  std::optional<InFlight> in_flight;
  std::array<std::optional<TimePoint>, config::kActionKinds> last_run{};
  std::array<std::optional<Trigger>, config::kActionKinds> last_trigger{};  // of last_run
  std::vector<TimePoint> periodic_last;  // per BotPolicy::periodic (starts at started_at)
  std::optional<TimePoint> predictive_last;
  ActionKind predictive_next = ActionKind::kSweep;
  bool ceiling_fired = false;     // one hard-ceiling restart per excursion
  bool restart_deferred = false;  // a "restart deferred" note was already written
  bool restart_blocked = false;   // the last restart failed; cleared below limit - hysteresis
  // The last compact freed at least its rung's min_freed: at the limit such a bot gets one
  // more compact (whatever its cooldown) before any restart; once per excursion, re-armed
  // below limit - hysteresis.
  bool compact_effective = false;
  bool compact_retried_at_limit = false;
  std::deque<std::pair<TimePoint, Bytes>> window;  // recent samples for the growth rate
  std::optional<Bytes> last_bytes;
  // Last action outcome, for status displays.
  std::optional<ActionResult> last_result;
  std::optional<TimePoint> last_result_at;
};

// A fresh state for a bot that (re)started at `started_at` (start-up grace counts from it).
PolicyState makeState(const BotPolicy& p, TimePoint started_at);
// The bot was (re)started: forget episodes, arm every threshold, restart the grace period.
void onBotStarted(PolicyState& s, const BotPolicy& p, TimePoint now);

// Feeds one sample; returns what to do now. Never returns a second non-alert action while
// one is in flight, except a hard-ceiling restart.
Decision step(PolicyState& s, const Sample& sample, const BotPolicy& p, TimePoint now);

// The result of the in-flight action. Failure, timeout, no session, or freed < min_freed
// mark the episode for escalation at the next step (if still above its threshold).
std::vector<Note> onActionResult(PolicyState& s, const ActionResult& r, const BotPolicy& p,
                                 TimePoint now);

// Least-squares growth of the figure over the state's window, bytes per second; 0 with
// fewer than 3 samples or less than 1 s of history.
double growthRate(const PolicyState& s);

// When to sample next: nextSample() in memvisor/policy/schedule.hpp.

// ok | elevated | high | critical (BotStatus.memory_state): critical at or above the limit,
// a restart threshold or the hard ceiling; high above a sweep/compact threshold; elevated
// above any other threshold.
std::string memoryState(const BotPolicy& p, Bytes metric);

// The thresholds resolved against the current limit (BotStatus.thresholds_bytes).
std::vector<Bytes> thresholdBytes(const BotPolicy& p);

}  // namespace memvisor::policy
