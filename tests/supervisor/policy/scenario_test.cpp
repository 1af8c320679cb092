// Closed-loop scenarios: the prod profile's policy driving a simulated bot, sampled at the
// adaptive poll interval, with actions that take effect after a delay. Mirrors the
// reference bot's --bloat, --leak and --hang modes, so the profile's ladder is checked
// against the kernel limit it sits under (no sleeps: simulated time).
#include <algorithm>
#include <cstdio>

#include "harness.hpp"
#include "memvisor/policy/schedule.hpp"
#include "memvisor/config/profiles.hpp"

namespace memvisor::policy::testing {
namespace {

using std::chrono::milliseconds;

enum class Mode { kBloat, kLeak, kHang };

struct Outcome_ {
  int restarts = 0;
  int actions = 0;
  Bytes peak = 0;
  std::vector<Trigger> restart_triggers;
};

// A bot whose cache grows at `growth` MiB/s (bloat: cache that sweep/compact evict; leak:
// unreachable memory nothing frees) over a 60 MiB base. Hang: never answers.
Outcome_ simulate(Mode mode, double growth_mib_s, Duration total) {
  const config::Profile* prof = config::findProfile("prod");
  const BotPolicy& p = prof->policy;
  const double base = 60;
  double cache = 0, leak = 0;
  TimePoint now{};
  PolicyState s = makeState(p, now);
  Outcome_ out;
  const TimePoint end = now + total;
  struct Pending {
    TimePoint at;
    ActionKind action;
    bool timeout = false;
  };
  std::optional<Pending> pending;
  // A sentinel instead of std::optional: GCC 12 -O2 reports a false maybe-uninitialized on it.
  TimePoint restarted_at = TimePoint::max();
  while (now < end) {
    const double mib = base + cache + leak;
    const auto bytes = static_cast<Bytes>(mib * static_cast<double>(kMiB));
    out.peak = std::max(out.peak, bytes);
    EXPECT_LT(bytes, p.limit + prof->kernel_limit_margin->resolve(p.limit))
        << "the kernel would have OOM-killed the bot";
    Decision d = step(s, Sample{bytes}, p, now);
    for (const auto& in : d.actions) {
      if (in.action == ActionKind::kAlert) continue;
      ++out.actions;
      if (in.action == ActionKind::kRestart) {
        ++out.restarts;
        out.restart_triggers.push_back(in.trigger);
        // Shutdown + respawn: 2 s when the bot is asked to shut down; above the hard ceiling the
        // daemon sends the stop signal at once (no protocol shutdown), 0.5 s. A second restart
        // decision while one is under way changes nothing (the daemon is already at it). With
        // samples every poll.min near the ceiling the peak seen is the real one, not the
        // last of a coarse poll.
        const auto restart_takes = in.trigger == Trigger::kHardCeiling ? milliseconds(500)
                                                                        : milliseconds(2000);
        if (restarted_at == TimePoint::max()) restarted_at = now + restart_takes;
      } else if (mode == Mode::kHang) {
        pending = Pending{now + in.deadline, in.action, true};  // the daemon's deadline expires
      } else {
        pending = Pending{now + milliseconds(200), in.action};
      }
    }
    Duration dt = nextSample(s, p, now).delay;
    // Step the world in small increments until the next poll.
    const TimePoint next = now + dt;
    while (now < next) {
      const Duration tick = std::min<Duration>(milliseconds(50), std::chrono::duration_cast<Duration>(next - now));
      now += tick;
      const double grown = growth_mib_s * std::chrono::duration<double>(tick).count();
      (mode == Mode::kLeak ? leak : cache) += grown;
      if (pending && now >= pending->at && pending->timeout) {
        onActionResult(s, ActionResult{pending->action, Outcome::kTimeout, 0, "no answer"}, p, now);
        pending.reset();
      }
      if (pending && now >= pending->at) {
        double freed = 0;
        switch (pending->action) {
          case ActionKind::kTrim: freed = 0.05 * cache; break;
          case ActionKind::kSweep: freed = 0.6 * cache; break;
          case ActionKind::kCompact: freed = 0.9 * cache; break;
          default: break;
        }
        cache -= freed;
        onActionResult(s, ActionResult{pending->action, Outcome::kOk, static_cast<Bytes>(freed * kMiB), ""}, p, now);
        pending.reset();
      }
      if (now >= restarted_at) {
        cache = leak = 0;
        restarted_at = TimePoint::max();
        pending.reset();
        onBotStarted(s, p, now);
      }
    }
  }
  return out;
}

void report(const char* what, double growth, const Outcome_& r) {
  std::printf("%s %.1f MiB/s: %d actions, %d restarts, peak %s\n", what, growth, r.actions,
              r.restarts, config::formatBytes(r.peak).c_str());
}

TEST(PolicyScenario, BloatIsKeptUnderTheLimitWithoutRestarts) {
  for (double growth : {0.5, 2.0, 8.0}) {
    const auto r = simulate(Mode::kBloat, growth, std::chrono::minutes(30));
    report("bloat", growth, r);
    EXPECT_EQ(r.restarts, 0) << growth << " MiB/s";
    EXPECT_GT(r.actions, 0) << growth << " MiB/s";
    EXPECT_LT(r.peak, 384 * kMiB) << growth << " MiB/s";
  }
}

TEST(PolicyScenario, LeakEndsInAGracefulRestartBeforeTheKernelLimit) {
  for (double growth : {0.5, 2.0, 8.0, 30.0}) {
    const auto r = simulate(Mode::kLeak, growth, std::chrono::minutes(30));
    report("leak", growth, r);
    EXPECT_GE(r.restarts, 1) << growth << " MiB/s";
    EXPECT_LT(r.peak, 480 * kMiB) << growth << " MiB/s";  // prod: 384 MiB + 25%
  }
}

TEST(PolicyScenario, AHungBotIsRestartedOnlyOnceItReachesTheLimit) {
  const auto r = simulate(Mode::kHang, 1.0, std::chrono::minutes(10));
  report("hang", 1.0, r);
  ASSERT_FALSE(r.restart_triggers.empty());
  EXPECT_GE(r.restarts, 1);
  EXPECT_LT(r.peak, 480 * kMiB);
}

}  // namespace
}  // namespace memvisor::policy::testing
