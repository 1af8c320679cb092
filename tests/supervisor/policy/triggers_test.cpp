// Periodic actions (the seed's trim every 15 minutes) and the predictive trigger (act when
// the growth rate says the limit is less than N seconds away).
#include "harness.hpp"

namespace memvisor::policy::testing {
namespace {

TEST(PolicyPeriodic, TrimsEveryIntervalFromStartUp) {
  BotPolicy p = ladder();
  p.periodic.push_back(config::PeriodicAction{ActionKind::kTrim, std::chrono::minutes(15), std::nullopt});
  Harness h(p);
  std::vector<int> fired_at_min;
  for (int m = 0; m <= 46; ++m) {
    auto d = h.sample(std::chrono::minutes(m), 40);
    if (auto a = actionOf(d)) {
      EXPECT_EQ(*a, ActionKind::kTrim);
      EXPECT_EQ(intentOf(d)->trigger, Trigger::kPeriodic);
      EXPECT_EQ(intentOf(d)->urgency, Urgency::kLow);
      EXPECT_EQ(intentOf(d)->reason, "periodic trim every 15m");
      fired_at_min.push_back(m);
      h.result(std::chrono::minutes(m), ActionKind::kTrim, Outcome::kOk, 0);  // 0 freed: fine
    }
  }
  EXPECT_EQ(fired_at_min, (std::vector<int>{15, 30, 45}));
}

TEST(PolicyPeriodic, SkipsARoundWhenBelowItsFloor) {
  BotPolicy p = ladder();
  p.periodic.push_back(config::PeriodicAction{ActionKind::kTrim, std::chrono::minutes(15),
                                              config::SizeSpec::absolute(50 * kMiB)});
  Harness h(p);
  EXPECT_FALSE(actionOf(h.sample(15min, 40)));  // this round is skipped, not postponed
  EXPECT_FALSE(actionOf(h.sample(16min, 55)));
  auto d = h.sample(30min, 55);
  ASSERT_EQ(actionOf(d), ActionKind::kTrim);
  EXPECT_EQ(intentOf(d)->reason, "periodic trim every 15m (rss 55 MiB >= 50 MiB)");
}

TEST(PolicyPeriodic, WaitsForAnActionInFlight) {
  BotPolicy p = ladder();
  p.periodic.push_back(config::PeriodicAction{ActionKind::kSweep, std::chrono::minutes(15), std::nullopt});
  Harness h(p);
  ASSERT_EQ(actionOf(h.sample(14min + 59s, 72)), ActionKind::kTrim);
  EXPECT_FALSE(actionOf(h.sample(15min, 60)));
  h.result(15min + 1s, ActionKind::kTrim, Outcome::kOk, 5);
  EXPECT_EQ(actionOf(h.sample(15min + 2s, 60)), ActionKind::kSweep);
}

BotPolicy predictive() {
  BotPolicy p = ladder();
  p.predictive = config::Predictive{std::chrono::seconds(120), std::chrono::seconds(60),
                                    ActionKind::kSweep, std::chrono::seconds(60)};
  return p;
}

TEST(PolicyPredictive, EstimatesTheGrowthRateByLeastSquares) {
  Harness h(predictive());
  for (int t = 0; t <= 20; t += 2) h.sample(std::chrono::seconds(t), 10 + 0.5 * t);  // 0.5 MiB/s
  EXPECT_NEAR(growthRate(h.state()), 0.5 * kMiB, 1.0);
  Harness flat(predictive());
  for (int t = 0; t <= 20; t += 2) flat.sample(std::chrono::seconds(t), 30);
  EXPECT_EQ(growthRate(flat.state()), 0.0);
  Harness few(predictive());
  few.sample(0s, 10);
  few.sample(1s, 20);
  EXPECT_EQ(growthRate(few.state()), 0.0);  // two samples are not a trend
}

TEST(PolicyPredictive, ActsBeforeAnyThresholdWhenTheLimitIsNear) {
  Harness h(predictive());
  // 2 MiB/s from 20 MiB: the 100 MiB limit is ~40 s away, inside the 120 s horizon.
  std::optional<int> fired;
  for (int t = 0; t <= 20; ++t) {
    auto d = h.sample(std::chrono::seconds(t), 20 + 2.0 * t);
    if (auto a = actionOf(d)) {
      fired = t;
      EXPECT_EQ(*a, ActionKind::kSweep);
      EXPECT_EQ(intentOf(d)->trigger, Trigger::kPredictive);
      EXPECT_NE(intentOf(d)->reason.find("growing 2 MiB/s"), std::string::npos) << intentOf(d)->reason;
      EXPECT_TRUE(hasNote(d.notes, "predictive"));
      break;
    }
  }
  ASSERT_TRUE(fired.has_value());
  EXPECT_EQ(*fired, 2);  // the third sample: the first moment a rate exists
  EXPECT_LT(20 + 2.0 * *fired, 70.0);  // well before the first threshold
}

TEST(PolicyPredictive, StaysQuietWhenTheLimitIsFarAwayAtTheCurrentRate) {
  Harness h(predictive());
  // 0.1 MiB/s at 30 MiB: the limit is 700 s away, beyond the 120 s horizon.
  for (int t = 0; t <= 60; t += 5) EXPECT_FALSE(actionOf(h.sample(std::chrono::seconds(t), 30 + 0.1 * t))) << t;
}

TEST(PolicyPredictive, EscalatesWhenThePredictionHoldsAfterItsCooldownButNeverRestarts) {
  // 0.07 MiB/s from 40 MiB stays under the first threshold (70 MiB) for 400 s; the limit
  // is ~860 s away: quiet with a 120 s horizon, "near" with a 30 min one.
  Harness h(predictive());
  for (int t = 0; t <= 400; t += 5) EXPECT_FALSE(actionOf(h.sample(std::chrono::seconds(t), 40 + 0.07 * t)));
  std::vector<ActionKind> seen;
  BotPolicy p = predictive();
  p.predictive->horizon = std::chrono::minutes(30);  // now the same growth is "near"
  Harness g(p);
  for (int t = 0; t <= 400; t += 5) {
    auto d = g.sample(std::chrono::seconds(t), 40 + 0.07 * t);
    if (auto a = actionOf(d)) {
      seen.push_back(*a);
      g.result(std::chrono::seconds(t), *a, Outcome::kOk, 2);
    }
  }
  ASSERT_GE(seen.size(), 3u);
  EXPECT_EQ(seen[0], ActionKind::kSweep);
  EXPECT_EQ(seen[1], ActionKind::kCompact);
  for (auto a : seen) EXPECT_NE(a, ActionKind::kRestart);
}

TEST(PolicyState, IsRebuiltWhenAReloadChangesTheLadder) {
  Harness h;
  ASSERT_EQ(actionOf(h.sample(0s, 72)), ActionKind::kTrim);
  h.result(1s, ActionKind::kTrim, Outcome::kOk, 5);
  h.policy().thresholds.pop_back();  // reload: restart threshold removed
  h.sample(2s, 72);
  EXPECT_EQ(h.state().thresholds.size(), 3u);
}

}  // namespace
}  // namespace memvisor::policy::testing
