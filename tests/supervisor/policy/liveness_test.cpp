// Liveness and the monitor's alert: pure verdicts over synthetic ping outcomes, lag series
// and memory figures, with an injected clock (no sleeps).
#include <gtest/gtest.h>

#include "memvisor/policy/liveness.hpp"
#include "memvisor/policy/memory_alert.hpp"

namespace memvisor::policy {
namespace {

using std::chrono::seconds;
using T = std::chrono::steady_clock::time_point;

config::Liveness cfg(int misses = 3) {
  config::Liveness c;
  c.every = seconds(10);
  c.deadline = seconds(5);
  c.misses = misses;
  c.max_lag = seconds(2);
  c.lag_for = seconds(30);
  return c;
}

TEST(Liveness, HungOnlyAfterConfiguredMissesInARow) {
  auto c = cfg(3);
  LivenessState s;
  EXPECT_STREQ(livenessName(s, c), "unknown");
  EXPECT_EQ(onPingMissed(s, c).change, LivenessChange::kNone);
  EXPECT_EQ(onPingMissed(s, c).change, LivenessChange::kNone);
  auto v = onPingMissed(s, c);
  EXPECT_EQ(v.change, LivenessChange::kHung);
  EXPECT_EQ(v.reason, "3 pings in a row unanswered within 5s");
  EXPECT_STREQ(livenessName(s, c), "hung");
  // A fourth miss is no new verdict.
  EXPECT_EQ(onPingMissed(s, c).change, LivenessChange::kNone);
}

TEST(Liveness, AnAnswerBetweenMissesStartsTheCountAgain) {
  auto c = cfg(3);
  LivenessState s;
  onPingMissed(s, c);
  onPingMissed(s, c);
  EXPECT_EQ(onPong(s, c, 0.4, false).change, LivenessChange::kNone);
  EXPECT_STREQ(livenessName(s, c), "ok");
  onPingMissed(s, c);
  EXPECT_EQ(onPingMissed(s, c).change, LivenessChange::kNone);
  EXPECT_EQ(s.misses, 2);
}

TEST(Liveness, ALateAnswerLeavesHung) {
  auto c = cfg(1);
  LivenessState s;
  EXPECT_EQ(onPingMissed(s, c).change, LivenessChange::kHung);
  auto v = onPong(s, c, 7200, true);
  EXPECT_EQ(v.change, LivenessChange::kRecovered);
  EXPECT_NE(v.reason.find("after its 5s deadline"), std::string::npos) << v.reason;
  EXPECT_STREQ(livenessName(s, c), "ok");
}

TEST(Liveness, LagAboveBoundForItsTimeIsHungAndClearsBelowIt) {
  auto c = cfg();
  LivenessState s;
  const T t0{};
  EXPECT_EQ(onLag(s, c, 2500, t0).change, LivenessChange::kNone);
  EXPECT_EQ(onLag(s, c, 3000, t0 + seconds(29)).change, LivenessChange::kNone);
  auto v = onLag(s, c, 3000, t0 + seconds(30));
  EXPECT_EQ(v.change, LivenessChange::kHung);
  EXPECT_NE(v.reason.find("event-loop lag"), std::string::npos);
  // Pongs do not end a lag-hung state: the loop still lags.
  EXPECT_EQ(onPong(s, c, 1, false).change, LivenessChange::kNone);
  EXPECT_STREQ(livenessName(s, c), "hung");
  EXPECT_EQ(onLag(s, c, 10, t0 + seconds(35)).change, LivenessChange::kRecovered);
}

TEST(Liveness, ALagDipRestartsTheClock) {
  auto c = cfg();
  LivenessState s;
  const T t0{};
  onLag(s, c, 3000, t0);
  onLag(s, c, 100, t0 + seconds(20));  // below the bound: the run ends
  EXPECT_EQ(onLag(s, c, 3000, t0 + seconds(31)).change, LivenessChange::kNone);
  EXPECT_EQ(onLag(s, c, 3000, t0 + seconds(61)).change, LivenessChange::kHung);
}

TEST(Liveness, NoLagBoundNoLagVerdicts) {
  auto c = cfg();
  c.max_lag.reset();
  LivenessState s;
  EXPECT_EQ(onLag(s, c, 1e9, T{}).change, LivenessChange::kNone);
  EXPECT_EQ(onLag(s, c, 1e9, T{} + seconds(3600)).change, LivenessChange::kNone);
  EXPECT_FALSE(s.hung());
}

TEST(Liveness, OffWhenDisabledAndResetForgetsEverything) {
  auto c = cfg(1);
  LivenessState s;
  onPingMissed(s, c);
  ASSERT_TRUE(s.hung());
  resetLiveness(s);
  EXPECT_STREQ(livenessName(s, c), "unknown");
  c.enabled = false;
  EXPECT_STREQ(livenessName(s, c), "off");
}

TEST(MemoryAlert, OncePerCrossingWithHysteresis) {
  config::Monitor m;  // 80 %, 5 % hysteresis
  const config::Bytes limit = 100 * config::kMiB;
  AlertState s;
  auto step = [&](double mib) {
    return stepAlert(s, m, config::Metric::kRss, limit,
                     static_cast<config::Bytes>(mib * static_cast<double>(config::kMiB)))
        .change;
  };
  EXPECT_EQ(step(79), AlertChange::kNone);
  EXPECT_EQ(step(80), AlertChange::kRaised);
  // Hovering around 80 %: no new alert, no clear.
  for (double v : {79.5, 80.5, 76.0, 81.0, 75.5, 80.0}) EXPECT_EQ(step(v), AlertChange::kNone) << v;
  EXPECT_EQ(step(74.9), AlertChange::kCleared);
  EXPECT_EQ(step(78), AlertChange::kNone);
  EXPECT_EQ(step(85), AlertChange::kRaised);
  EXPECT_EQ(s.raised, 2u);
}

TEST(MemoryAlert, MessageSaysFigureLimitAndWhereItClears) {
  config::Monitor m;
  AlertState s;
  auto v = stepAlert(s, m, config::Metric::kRss, 384 * config::kMiB, 310 * config::kMiB);
  ASSERT_EQ(v.change, AlertChange::kRaised);
  EXPECT_EQ(v.message,
            "memory alert: rss 310 MiB is 81% of the 384 MiB limit (alert at 307.2 MiB, "
            "clears below 288 MiB)");
  EXPECT_EQ(v.fields.at("alert_at"), std::to_string(static_cast<config::Bytes>(384 * config::kMiB * 0.8)));
}

TEST(MemoryAlert, OffMeansNeverRaised) {
  config::Monitor m;
  m.alert_at.reset();
  AlertState s;
  EXPECT_EQ(stepAlert(s, m, config::Metric::kRss, 100, 100).change, AlertChange::kNone);
  EXPECT_FALSE(s.on);
}

}  // namespace
}  // namespace memvisor::policy
