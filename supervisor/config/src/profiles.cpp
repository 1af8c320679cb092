// The built-in profiles. Cache sizes, sweep intervals and monitor intervals are the seed
// system's (its npm scripts dev, dev:ultra, start:prod, start:prod-optimized); the limits and
// the threshold ladder are memvisor's choices, explained in defaultThresholds().
#include "memvisor/config/profiles.hpp"

#include <chrono>

#include "memvisor/config/node_heap.hpp"

namespace memvisor::config {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

std::map<std::string, std::string> seedEnv(int messages, int members, int sweep_interval,
                                           int sweep_lifetime, int log_interval,
                                           bool optimizer) {
  return {
      {"CACHE_MESSAGES_LIMIT", std::to_string(messages)},
      {"CACHE_MEMBERS_LIMIT", std::to_string(members)},
      {"SWEEP_MESSAGES_INTERVAL_SECONDS", std::to_string(sweep_interval)},
      {"SWEEP_MESSAGES_LIFETIME_SECONDS", std::to_string(sweep_lifetime)},
      {"MEMORY_LOG_INTERVAL_SECONDS", std::to_string(log_interval)},
      {"ENABLE_MEMORY_OPTIMIZER", optimizer ? "true" : "false"},
  };
}

PolicyConfig basePolicy(Bytes limit) {
  PolicyConfig p;
  p.limit = limit;
  p.metric = Metric::kRss;
  p.thresholds = defaultThresholds();
  p.hysteresis = SizeSpec::percentOf(5);
  p.hard_ceiling = SizeSpec::percentOf(110);
  p.startup_grace = seconds(60);
  return p;
}

// The profiles are for Node.js bots (the seed is one): V8's heap limit follows the memory
// limit (NODE_OPTIONS, reasoning in node_heap.hpp); other programs ignore the variable.
void sizeNodeHeap(Profile& p) { p.env["NODE_OPTIONS"] = nodeOptionsFor(p.policy.limit); }
// Why these liveness figures: a ping every 10 s costs nothing; a healthy bot answers in
// well under a millisecond, and a GC pause or a compact stalls its loop for tens to hundreds
// of milliseconds, so a 5 s deadline never mistakes work for a hang; 3 misses in a row
// (a hung bot is caught within 35 s) keep one slow answer from costing a restart. A loop
// that still answers but lags more than 5 s for a whole minute serves no user either.
Liveness profileLiveness() {
  Liveness l;
  l.enabled = true;
  l.every = seconds(10);
  l.deadline = seconds(5);
  l.misses = 3;
  l.on_hung = OnHung::kRestart;
  l.max_lag = seconds(5);
  l.lag_for = seconds(60);
  return l;
}

// The seed's monitor alerted at 80 % of its limit; 5 % of hysteresis (the threshold
// ladder's) keeps a bot that hovers at 80 % to one warning per crossing. Stats are stale
// after 3 missed intervals (15 s at the default 5 s), not after one late one.
Monitor profileMonitor() {
  Monitor m;
  m.alert_at = SizeSpec::percentOf(80);
  m.alert_hysteresis = SizeSpec::percentOf(5);
  m.stale_after = 3;
  return m;
}

std::vector<Profile> makeProfiles() {
  std::vector<Profile> out;
  {
    Profile p;
    p.name = "standard";
    p.summary = "seed `npm run dev`: 50 messages, 100 members, sweep every 5 min, monitor 2 min";
    p.env = seedEnv(50, 100, 300, 900, 120, false);
    p.policy = basePolicy(384 * kMiB);
    p.kernel_limit_margin = SizeSpec::percentOf(25);
    p.liveness = profileLiveness();
    p.monitor = profileMonitor();
    out.push_back(std::move(p));
  }
  {
    Profile p;
    p.name = "ultra";
    // The seed says usage is ~80-150 MB in this mode, for VPSes under 512 MB: 192 MiB leaves
    // room for the peak. The seed gives no message lifetime for ultra; 300 s keeps messages
    // for 2.5 sweep intervals, like standard's 900 s over 300 s sweeps (3x), rounded down.
    p.summary = "seed `npm run dev:ultra`: 10 messages, 25 members, sweep every 2 min, monitor 1 min";
    p.env = seedEnv(10, 25, 120, 300, 60, false);
    p.policy = basePolicy(192 * kMiB);
    p.kernel_limit_margin = SizeSpec::percentOf(25);
    p.liveness = profileLiveness();
    p.monitor = profileMonitor();
    out.push_back(std::move(p));
  }
  {
    Profile p;
    p.name = "prod";
    p.summary = "seed `npm run start:prod`: standard caches, 384 MiB limit";
    p.env = seedEnv(50, 100, 300, 900, 120, false);
    p.policy = basePolicy(384 * kMiB);
    p.kernel_limit_margin = SizeSpec::percentOf(25);
    p.liveness = profileLiveness();
    p.monitor = profileMonitor();
    out.push_back(std::move(p));
  }
  {
    Profile p;
    p.name = "prod-optimized";
    p.summary =
        "seed `npm run start:prod-optimized`: 512 MiB limit, optimizer on, trim every 15 min "
        "and above 200 MiB";
    p.env = seedEnv(50, 100, 300, 900, 120, true);
    // The seed's optimizer defaults, spelled out for the bot's in-process optimizer.
    p.env["MEMORY_OPTIMIZER_INTERVAL_SECONDS"] = "900";
    p.env["MEMORY_OPTIMIZER_THRESHOLD_MB"] = "200";
    p.policy = basePolicy(512 * kMiB);
    // The seed's memoryOptimizer: forced GC every 15 minutes, and GC when the heap passes
    // 200 MB. Here: a periodic trim, and a trim threshold at 200 MiB below the ladder.
    p.policy.periodic.push_back(PeriodicAction{ActionKind::kTrim, minutes(15), std::nullopt});
    Threshold t200;
    t200.at = SizeSpec::absolute(200 * kMiB);
    t200.action = ActionKind::kTrim;
    t200.sustain = Sustain{Duration{0}, 2};
    t200.cooldown = minutes(5);
    p.policy.thresholds.insert(p.policy.thresholds.begin(), t200);
    p.kernel_limit_margin = SizeSpec::percentOf(25);
    p.liveness = profileLiveness();
    p.monitor = profileMonitor();
    out.push_back(std::move(p));
  }
  for (auto& p : out) sizeNodeHeap(p);
  return out;
}

}  // namespace

std::vector<Threshold> defaultThresholds() {
  // Why this ladder: trim (give free heap pages back) costs almost nothing, so it comes
  // first and early at 70%; sweep (evict stale cache entries) loses a little warm data at
  // 80%; compact (aggressive shrink, may pause the bot) at 90%; restart only at the limit
  // itself and only when that lasts 10 s, so a short spike that the lower steps absorb never
  // costs a restart. Two samples of sustain filter single-sample noise (a GC in progress).
  // The 110% hard ceiling (restart at once) stays below the kernel limit (limit + 25%).
  auto make = [](double pct, ActionKind a, Sustain s, Duration cooldown, Bytes min_freed) {
    Threshold t;
    t.at = SizeSpec::percentOf(pct);
    t.action = a;
    t.sustain = s;
    t.cooldown = cooldown;
    t.min_freed = min_freed;
    return t;
  };
  return {
      make(70, ActionKind::kTrim, Sustain{Duration{0}, 2}, seconds(60), 1 * kMiB),
      make(80, ActionKind::kSweep, Sustain{Duration{0}, 2}, seconds(60), 1 * kMiB),
      make(90, ActionKind::kCompact, Sustain{Duration{0}, 2}, seconds(30), 1 * kMiB),
      make(100, ActionKind::kRestart, Sustain{seconds(10), 0}, seconds(60), 0),
  };
}

BotConfig botDefaults(const Profile* profile) {
  BotConfig b;
  b.policy.thresholds = defaultThresholds();
  b.policy.hard_ceiling = SizeSpec::percentOf(110);
  if (profile != nullptr) {
    b.profile = profile->name;
    b.policy = profile->policy;
    b.spawn.env = profile->env;
    b.kernel_limit_margin = profile->kernel_limit_margin;
    b.liveness = profile->liveness;
    b.monitor = profile->monitor;
  }
  return b;
}

const std::vector<Profile>& builtinProfiles() {
  static const std::vector<Profile> profiles = makeProfiles();
  return profiles;
}

const Profile* findProfile(std::string_view name) {
  for (const auto& p : builtinProfiles()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace memvisor::config
