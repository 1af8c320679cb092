// Headroom-scheduled sampling: the next sample is due when the bot could first reach the next
// decision figure at poll.max_growth, clamped to [poll.min, poll.max]; pending thresholds and
// timers pull it in. The guarantee is checked by simulation on the injected clock.
#include <random>

#include "harness.hpp"
#include "memvisor/policy/schedule.hpp"

namespace memvisor::policy::testing {
namespace {

using std::chrono::milliseconds;

BotPolicy fastLadder() {
  BotPolicy p = ladder();  // 70/80/90/100 MiB, hard ceiling 110 MiB
  p.poll_min = milliseconds(10);
  p.poll_max = milliseconds(5000);
  p.max_growth = 1024 * kMiB;
  return p;
}

TEST(NextSample, IsTheTimeToReachTheNextDecisionFigureAtMaxGrowth) {
  struct Case {
    double mib;
    Bytes max_growth;
    Duration expected;
    const char* why;
  } cases[] = {
      {20, 1024 * kMiB, milliseconds(48), "headroom"},  // 50 MiB to 70 at 1 GiB/s: 48.8 ms
      {75, 1024 * kMiB, milliseconds(10), "headroom"},  // 5 MiB to 80: 4.9 ms -> poll.min
      {20, 1 * kMiB, milliseconds(5000), "max"},        // 50 s away -> poll.max
      {20, 10 * kMiB, milliseconds(5000), "max"},
      {60, 10 * kMiB, milliseconds(1000), "headroom"},  // 10 MiB at 10 MiB/s
      {105, 1024 * kMiB, milliseconds(10), "headroom"},  // above the limit, below the ceiling
      {120, 1024 * kMiB, milliseconds(10), "at_limit"},  // above everything
  };
  for (const auto& c : cases) {
    Harness h(fastLadder());
    h.policy().max_growth = c.max_growth;
    h.policy().thresholds.clear();  // no pending counts: only the figures matter here
    auto p = fastLadder();
    h.policy().thresholds = p.thresholds;
    h.state().last_bytes = static_cast<Bytes>(c.mib * static_cast<double>(kMiB));
    const auto s = nextSample(h.state(), h.policy(), h.t0());
    EXPECT_EQ(s.delay, c.expected) << c.mib << " MiB";
    EXPECT_STREQ(s.why, c.why) << c.mib << " MiB";
  }
}

TEST(NextSample, TakesTheFirstSampleAndPendingThresholdsAtPollMin) {
  Harness first(fastLadder());
  EXPECT_EQ(nextSample(first.state(), first.policy(), first.t0()).delay, milliseconds(10));

  BotPolicy p = fastLadder();
  p.thresholds[0].sustain = config::Sustain{Duration{0}, 3};  // trim at 70 MiB for 3 samples
  Harness h(p);
  h.sample(0s, 72);  // 1 of 3: the next two samples come at poll.min, not 5 s later
  const auto s = nextSample(h.state(), h.policy(), h.t0());
  EXPECT_EQ(s.delay, milliseconds(10));
  EXPECT_STREQ(s.why, "pending");
}

TEST(NextSample, UsesTheObservedGrowthWhenItIsFasterThanMaxGrowth) {
  BotPolicy p = fastLadder();
  p.max_growth = 1 * kMiB;
  Harness h(p);
  for (int t = 0; t <= 10; ++t) h.sample(std::chrono::seconds(t), 10 + 4.0 * t);  // 4 MiB/s, 50
  // 20 MiB to the trim threshold at 4 MiB/s: 5 s, not the 20 s max_growth alone would give.
  EXPECT_EQ(nextSample(h.state(), h.policy(), h.t0() + 10s).delay, milliseconds(5000));
  h.sample(11s, 66);  // 4 MiB to go at >= 4 MiB/s
  EXPECT_LE(nextSample(h.state(), h.policy(), h.t0() + 11s).delay, milliseconds(1000));
}

TEST(NextSample, ComesBackWhenACooldownOrAPeriodicActionFallsDue) {
  BotPolicy p = fastLadder();
  p.max_growth = 1 * kMiB;  // headroom alone would wait poll.max
  config::PeriodicAction every;
  every.action = ActionKind::kTrim;
  every.every = milliseconds(1500);
  p.periodic = {every};
  Harness h(p);
  h.sample(0s, 20);
  const auto s = nextSample(h.state(), h.policy(), h.t0() + milliseconds(500));
  EXPECT_EQ(s.delay, milliseconds(1000));
  EXPECT_STREQ(s.why, "timer");
}

TEST(NextSample, WaitsPollMaxWhenTheKernelWatchesTheDecisionFigures) {
  BotPolicy p = fastLadder();
  Harness h(p);
  h.sample(0s, 20);  // 50 MiB below trim: 48 ms at 1 GiB/s without the kernel
  auto s = nextSample(h.state(), h.policy(), h.t0(), /*kernel_watches=*/true);
  EXPECT_EQ(s.delay, milliseconds(5000));
  EXPECT_STREQ(s.why, "kernel");
  EXPECT_EQ(s.target, 70 * kMiB);
  // Still sooner for what no kernel threshold announces: a periodic action falling due...
  config::PeriodicAction every;
  every.action = ActionKind::kTrim;
  every.every = milliseconds(1500);
  h.policy().periodic = {every};
  h.state() = makeState(h.policy(), h.t0());
  h.sample(0s, 20);
  s = nextSample(h.state(), h.policy(), h.t0() + milliseconds(500), true);
  EXPECT_EQ(s.delay, milliseconds(1000));
  EXPECT_STREQ(s.why, "timer");
  // ...a threshold counting samples, and a bot above every figure.
  BotPolicy q = fastLadder();
  q.thresholds[0].sustain = config::Sustain{Duration{0}, 3};
  Harness pending(q);
  pending.sample(0s, 72);
  EXPECT_EQ(nextSample(pending.state(), pending.policy(), pending.t0(), true).delay,
            milliseconds(10));
  Harness above(fastLadder());
  above.state().last_bytes = 120 * kMiB;
  EXPECT_STREQ(nextSample(above.state(), above.policy(), above.t0(), true).why, "at_limit");
}

TEST(NextSample, StaysWithinTheBounds) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> mib(0, 150);
  for (int i = 0; i < 2000; ++i) {
    Harness h(fastLadder());
    h.state().last_bytes = static_cast<Bytes>(mib(rng) * static_cast<double>(kMiB));
    const auto d = nextSample(h.state(), h.policy(), h.t0()).delay;
    ASSERT_GE(d, milliseconds(10));
    ASSERT_LE(d, milliseconds(5000));
  }
}

// The documented guarantee: growing at up to max_growth from any phase of the schedule, the
// crossing of a decision figure is sampled within poll.min of it (never a whole interval later).
TEST(NextSample, SeesEveryCrossingWithinPollMinAtUpToMaxGrowth) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> rate_mib_s(1, 1024);
  std::uniform_real_distribution<double> idle_s(0, 3);
  for (int run = 0; run < 300; ++run) {
    BotPolicy p = fastLadder();
    p.thresholds = {p.thresholds[2]};  // compact at 90 MiB: the figure to catch
    p.thresholds[0].cooldown = std::chrono::hours(1);
    PolicyState s = makeState(p, TimePoint{});
    const double rate = rate_mib_s(rng) * static_cast<double>(kMiB);  // bytes/s
    const double start_growth = idle_s(rng);                          // seconds, random phase
    const double base = 10.0 * static_cast<double>(kMiB);
    auto figure = [&](double t) { return base + std::max(0.0, t - start_growth) * rate; };
    const double at = 90.0 * static_cast<double>(kMiB);
    const double crossing = start_growth + (at - base) / rate;
    double t = 0;
    bool acted = false;
    for (int i = 0; i < 100000 && !acted; ++i) {
      const auto now = TimePoint{} + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(t));
      const auto d = step(s, Sample{static_cast<Bytes>(figure(t))}, p, now);
      for (const auto& a : d.actions) acted = acted || a.action == ActionKind::kCompact;
      if (acted) break;
      t += std::chrono::duration<double>(nextSample(s, p, now).delay).count();
    }
    ASSERT_TRUE(acted) << "run " << run;
    EXPECT_LE(t - crossing, 0.010 + 1e-9) << "run " << run << " at " << rate / kMiB << " MiB/s";
    EXPECT_GE(t, crossing);
  }
}

}  // namespace
}  // namespace memvisor::policy::testing
