// The adaptive poll interval: max far from the limit, min at it, and always shorter than
// the time the observed growth needs to cross the remaining headroom.
#include <random>

#include "harness.hpp"

namespace memvisor::policy::testing {
namespace {

using std::chrono::milliseconds;

constexpr Duration kMin = milliseconds(250);
constexpr Duration kMax = milliseconds(5000);

TEST(PollInterval, FollowsTheHeadroomWhenNothingGrows) {
  struct Case {
    double used_pct;
    Duration expected;
  } cases[] = {
      {0, kMax},   {50, kMax},   {70, kMax},  // 30% headroom or more: slow
      {85, milliseconds(250 + 4750 / 2)},   // half way down
      {100, kMin}, {120, kMin},             // at or over the limit: fast
  };
  for (const auto& c : cases) {
    const Bytes limit = 100 * kMiB;
    const auto metric = static_cast<Bytes>(c.used_pct / 100.0 * static_cast<double>(limit));
    EXPECT_NEAR(nextPollInterval(metric, limit, 0.0, kMin, kMax).count(), c.expected.count(), 1)
        << c.used_pct << "%";
  }
}

TEST(PollInterval, IsShorterThanTheTimeToCrossTheHeadroom) {
  // 10 MiB of headroom growing 4 MiB/s: crossing in 2.5 s, so polls at most every 1.25 s.
  EXPECT_EQ(nextPollInterval(90 * kMiB, 100 * kMiB, 4.0 * kMiB, kMin, kMax), milliseconds(1250));
  // Random figures: whenever min allows it, interval < crossing time (two samples fit).
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<Bytes> used(0, 200 * kMiB);
  std::uniform_real_distribution<double> rate(1.0, 200.0 * kMiB);
  for (int i = 0; i < 10000; ++i) {
    const Bytes limit = 200 * kMiB;
    const Bytes m = used(rng);
    const double r = rate(rng);
    const Duration d = nextPollInterval(m, limit, r, kMin, kMax);
    ASSERT_GE(d, kMin);
    ASSERT_LE(d, kMax);
    if (m >= limit) continue;
    const double cross_ms = 1000.0 * static_cast<double>(limit - m) / r;
    if (cross_ms > 2.0 * static_cast<double>(kMin.count())) {
      ASSERT_LE(static_cast<double>(d.count()), cross_ms / 2.0) << "m=" << m << " r=" << r;
    } else {
      ASSERT_EQ(d, kMin);  // the best the configured minimum allows
    }
  }
}

TEST(PollInterval, ShrinksTowardsTheNextThresholdForAGrowingBot) {
  Harness h;  // 70/80/90/100 MiB, poll 250 ms..5 s
  for (int t = 0; t <= 10; ++t) h.sample(std::chrono::seconds(t), 50 + 1.0 * t);  // 1 MiB/s, now 60
  // The trim threshold at 70 MiB is 10 s away: two samples before it, at most 5 s...
  const Duration d = nextPollInterval(h.state(), h.policy());
  EXPECT_LE(d, milliseconds(5000));
  EXPECT_GE(d, h.policy().poll_min);
  Harness fast;
  for (int t = 0; t <= 10; ++t) fast.sample(std::chrono::seconds(t), 30 + 4.0 * t);  // 4 MiB/s, now 70
  // ...and at 4 MiB/s with 70 MiB reached, the sweep threshold (80) is 2.5 s away: <= 1.25 s.
  EXPECT_LE(nextPollInterval(fast.state(), fast.policy()), milliseconds(1250));
  Harness idle;
  for (int t = 0; t <= 10; ++t) idle.sample(std::chrono::seconds(t), 20);
  EXPECT_EQ(nextPollInterval(idle.state(), idle.policy()), idle.policy().poll_max);
}

TEST(PollInterval, ClampsAnInvertedRangeToMin) {
  EXPECT_EQ(nextPollInterval(0, 100 * kMiB, 0.0, milliseconds(500), milliseconds(100)), milliseconds(500));
  EXPECT_EQ(nextPollInterval(10, 0, 0.0, kMin, kMax), kMax);  // no limit known
}

}  // namespace
}  // namespace memvisor::policy::testing
