// Escalation: on failure, timeout, no session, too little freed, or still above after the
// cooldown, the next action up; restart only at the limit; never during the start-up grace
// (except the hard ceiling).
#include "harness.hpp"

namespace memvisor::policy::testing {
namespace {

TEST(PolicyEscalation, TakesTheNextActionUpWhenTheLastOneFailsOrFreesTooLittle) {
  struct Case {
    const char* name;
    Outcome outcome;
    double freed_mib;
    const char* reason_part;
  } cases[] = {
      {"failed", Outcome::kFailed, 0, "trim failed (boom)"},
      {"timeout", Outcome::kTimeout, 0, "trim timeout"},
      {"not connected", Outcome::kNotConnected, 0, "trim not_connected"},
      {"unsupported", Outcome::kUnsupported, 0, "trim unsupported"},
      {"too little", Outcome::kOk, 0.5, "trim freed 512 KiB < min_freed 1 MiB"},
      {"grew", Outcome::kOk, -2, "trim freed -2 MiB < min_freed 1 MiB"},
  };
  for (const auto& c : cases) {
    Harness h;
    ASSERT_EQ(actionOf(h.sample(0s, 75)), ActionKind::kTrim) << c.name;
    auto notes = h.result(1s, ActionKind::kTrim, c.outcome, c.freed_mib, "boom");
    EXPECT_TRUE(hasNote(notes, "action_result", c.reason_part)) << c.name;
    auto d = h.sample(2s, 75);  // still above 70%: no need to wait for the cooldown
    const Intent* in = intentOf(d);
    ASSERT_NE(in, nullptr) << c.name;
    EXPECT_EQ(in->action, ActionKind::kSweep) << c.name;
    EXPECT_EQ(in->trigger, Trigger::kEscalation) << c.name;
    EXPECT_EQ(in->urgency, Urgency::kHigh) << c.name;
    EXPECT_NE(in->reason.find(c.reason_part), std::string::npos) << c.name << ": " << in->reason;
    EXPECT_NE(in->reason.find("escalating trim -> sweep"), std::string::npos) << in->reason;
    EXPECT_TRUE(hasNote(d.notes, "escalation")) << c.name;
  }
}

TEST(PolicyEscalation, DoesNotEscalateAnEffectiveAction) {
  Harness h;
  ASSERT_EQ(actionOf(h.sample(0s, 75)), ActionKind::kTrim);
  EXPECT_TRUE(h.result(1s, ActionKind::kTrim, Outcome::kOk, 8).empty());
  EXPECT_FALSE(actionOf(h.sample(2s, 67)));
  EXPECT_FALSE(actionOf(h.sample(200s, 67)));  // below the threshold: episode over
}

TEST(PolicyEscalation, DropsAFailedActionOnceTheFigureIsBackBelow) {
  Harness h;
  ASSERT_EQ(actionOf(h.sample(0s, 75)), ActionKind::kTrim);
  h.result(1s, ActionKind::kTrim, Outcome::kFailed);
  EXPECT_FALSE(actionOf(h.sample(2s, 68)));  // fell below 70% by itself
}

TEST(PolicyEscalation, ClimbsTheLadderWhileStillAboveAfterEachCooldown) {
  Harness h;
  ASSERT_EQ(actionOf(h.sample(0s, 75)), ActionKind::kTrim);
  h.result(1s, ActionKind::kTrim, Outcome::kOk, 2);
  EXPECT_FALSE(actionOf(h.sample(30s, 75)));  // within the 60 s cooldown
  auto d = h.sample(60s, 75);
  ASSERT_EQ(actionOf(d), ActionKind::kSweep);
  EXPECT_NE(intentOf(d)->reason.find("trim 1m ago left rss 75 MiB >= 70 MiB"), std::string::npos)
      << intentOf(d)->reason;
  h.result(61s, ActionKind::kSweep, Outcome::kOk, 2);
  ASSERT_EQ(actionOf(h.sample(120s, 75)), ActionKind::kCompact);
  h.result(121s, ActionKind::kCompact, Outcome::kOk, 2);
  // Below the limit a bot is not restarted: compact again each cooldown while it helps.
  auto again = h.sample(180s, 75);
  EXPECT_EQ(actionOf(again), ActionKind::kCompact);
  EXPECT_NE(actionOf(again), ActionKind::kRestart);
}

TEST(PolicyEscalation, StopsBelowTheLimitWhenNothingHelps) {
  Harness h;
  ASSERT_EQ(actionOf(h.sample(0s, 75)), ActionKind::kTrim);
  h.result(1s, ActionKind::kTrim, Outcome::kFailed);
  ASSERT_EQ(actionOf(h.sample(2s, 75)), ActionKind::kSweep);
  h.result(3s, ActionKind::kSweep, Outcome::kFailed);
  ASSERT_EQ(actionOf(h.sample(4s, 75)), ActionKind::kCompact);
  h.result(5s, ActionKind::kCompact, Outcome::kFailed);
  auto d = h.sample(6s, 75);
  EXPECT_FALSE(actionOf(d));
  EXPECT_TRUE(hasNote(d.notes, "escalation", "nothing stronger than compact at 75 MiB (restart needs the limit, 100 MiB)"))
      << (d.notes.empty() ? "" : d.notes.back().message);
  EXPECT_FALSE(actionOf(h.sample(600s, 75)));  // and no loop afterwards
}

TEST(PolicyEscalation, RestartsAsTheLastResortAtTheLimit) {
  Harness h;
  ASSERT_EQ(actionOf(h.sample(0s, 92)), ActionKind::kCompact);
  h.result(1s, ActionKind::kCompact, Outcome::kTimeout);
  auto d = h.sample(2s, 101);
  ASSERT_EQ(actionOf(d), ActionKind::kRestart);
  // The restart threshold (100%) fired, made stronger by nothing: its reason names it.
  EXPECT_NE(intentOf(d)->reason.find("restart threshold 100%"), std::string::npos) << intentOf(d)->reason;
  EXPECT_TRUE(hasNote(d.notes, "threshold"));
}

TEST(PolicyEscalation, LeavesRestartToTheRestartThresholdAndItsSustain) {
  BotPolicy p = ladder();
  p.thresholds.back().sustain = config::Sustain{std::chrono::seconds(10), 0};
  Harness h(p);
  ASSERT_EQ(actionOf(h.sample(0s, 92)), ActionKind::kCompact);
  h.result(1s, ActionKind::kCompact, Outcome::kTimeout);
  // Over the limit with compact failed: the restart threshold still wants its 10 s.
  EXPECT_NE(actionOf(h.sample(2s, 101)), ActionKind::kRestart);
  if (h.state().in_flight) h.result(3s, h.state().in_flight->action, Outcome::kFailed);
  EXPECT_NE(actionOf(h.sample(5s, 101)), ActionKind::kRestart);
  if (h.state().in_flight) h.result(6s, h.state().in_flight->action, Outcome::kFailed);
  EXPECT_EQ(actionOf(h.sample(12s, 101)), ActionKind::kRestart);
}

TEST(PolicyEscalation, RestartsByEscalationAtTheLimitWhenTheLadderHasNoRestart) {
  BotPolicy p = ladder();
  p.thresholds.pop_back();
  Harness h(p);
  ASSERT_EQ(actionOf(h.sample(0s, 92)), ActionKind::kCompact);
  h.result(1s, ActionKind::kCompact, Outcome::kFailed);
  EXPECT_EQ(actionOf(h.sample(2s, 95)), std::nullopt);  // below the limit: not for this
  ASSERT_EQ(actionOf(h.sample(3s, 92)), std::nullopt);
  // A fresh crossing over the limit, compact failing again: now restart is the next step.
  Harness g(p);
  ASSERT_EQ(actionOf(g.sample(0s, 101)), ActionKind::kCompact);
  g.result(1s, ActionKind::kCompact, Outcome::kFailed);
  auto d = g.sample(2s, 101);
  ASSERT_EQ(actionOf(d), ActionKind::kRestart);
  EXPECT_EQ(intentOf(d)->trigger, Trigger::kEscalation);
  EXPECT_NE(intentOf(d)->reason.find("compact failed; escalating compact -> restart"), std::string::npos)
      << intentOf(d)->reason;
}

TEST(PolicyEscalation, NeverGoesAboveTheConfiguredMaximum) {
  BotPolicy p = ladder();
  p.escalation.max_action = ActionKind::kSweep;
  p.thresholds.pop_back();  // no restart threshold
  Harness h(p);
  ASSERT_EQ(actionOf(h.sample(0s, 75)), ActionKind::kTrim);
  h.result(1s, ActionKind::kTrim, Outcome::kFailed);
  ASSERT_EQ(actionOf(h.sample(2s, 75)), ActionKind::kSweep);
  h.result(3s, ActionKind::kSweep, Outcome::kFailed);
  EXPECT_FALSE(actionOf(h.sample(4s, 75)));
}

TEST(PolicyEscalation, IsSilentWhenTurnedOff) {
  BotPolicy p = ladder();
  p.escalation.enabled = false;
  Harness h(p);
  ASSERT_EQ(actionOf(h.sample(0s, 75)), ActionKind::kTrim);
  h.result(1s, ActionKind::kTrim, Outcome::kFailed);
  EXPECT_FALSE(actionOf(h.sample(2s, 75)));
  EXPECT_FALSE(actionOf(h.sample(200s, 75)));
}

TEST(PolicyEscalation, TreatsAMissingResultAsATimeout) {
  Harness h;
  ASSERT_EQ(actionOf(h.sample(0s, 75)), ActionKind::kTrim);  // deadline 5 s
  EXPECT_FALSE(actionOf(h.sample(10s, 75)));                // 2 x deadline + 1 s not yet over
  auto d = h.sample(12s, 75);
  EXPECT_TRUE(hasNote(d.notes, "action_result", "trim timeout (no result reported)"));
  EXPECT_EQ(actionOf(d), ActionKind::kSweep);
}

TEST(PolicyGrace, DefersRestartButStillActsDuringStartUp) {
  BotPolicy p = ladder();
  p.startup_grace = std::chrono::seconds(60);
  Harness h(p);
  auto d = h.sample(5s, 101);  // a start-up spike over the limit
  ASSERT_EQ(actionOf(d), ActionKind::kCompact);
  EXPECT_TRUE(hasNote(d.notes, "deferred", "restart deferred, start-up grace"));
  EXPECT_NE(intentOf(d)->reason.find("compact instead"), std::string::npos);
  h.result(6s, ActionKind::kCompact, Outcome::kOk, 0.1);
  for (int t = 7; t < 60; t += 5) {
    EXPECT_NE(actionOf(h.sample(std::chrono::seconds(t), 101)), ActionKind::kRestart) << t;
    if (h.state().in_flight) h.result(std::chrono::seconds(t), h.state().in_flight->action, Outcome::kOk, 0.1);
  }
  // Grace over and still at the limit: now the restart.
  EXPECT_EQ(actionOf(h.sample(61s, 101)), ActionKind::kRestart);
}

// Issue 9: above the limit during the grace, the note said "restart needs the limit" while
// the figure was above it. It now names what holds restart back.
TEST(PolicyGrace, SaysTheGraceHoldsRestartBackAboveTheLimit) {
  BotPolicy p = ladder();
  p.startup_grace = std::chrono::seconds(60);
  p.thresholds.back().sustain = config::Sustain{std::chrono::seconds(10), 0};
  Harness h(p);
  ASSERT_EQ(actionOf(h.sample(5s, 101)), ActionKind::kCompact);
  h.result(6s, ActionKind::kCompact, Outcome::kOk, 0.1);  // < min_freed: escalate at once
  auto d = h.sample(7s, 101);
  EXPECT_FALSE(actionOf(d));
  ASSERT_TRUE(hasNote(d.notes, "escalation", "nothing stronger than compact at 101 MiB (restart deferred: start-up grace"))
      << (d.notes.empty() ? "" : d.notes.back().message);
  EXPECT_FALSE(hasNote(d.notes, "escalation", "restart needs the limit"));
}

TEST(PolicyGrace, DoesNotStopAStartUpSpikeThatFallsBackFromRestarting) {
  BotPolicy p = ladder();
  p.startup_grace = std::chrono::seconds(60);
  Harness h(p);
  ASSERT_EQ(actionOf(h.sample(5s, 101)), ActionKind::kCompact);
  h.result(6s, ActionKind::kCompact, Outcome::kOk, 40);
  EXPECT_FALSE(actionOf(h.sample(10s, 60)));
  EXPECT_FALSE(actionOf(h.sample(70s, 60)));  // after the grace: nothing pending
}

TEST(PolicyHardCeiling, RestartsAtOnceEvenInGraceAndWhileAnActionIsInFlight) {
  BotPolicy p = ladder();
  p.startup_grace = std::chrono::minutes(5);
  Harness h(p);
  ASSERT_EQ(actionOf(h.sample(1s, 75)), ActionKind::kTrim);
  ASSERT_TRUE(h.state().in_flight);
  auto d = h.sample(2s, 111);
  const Intent* in = intentOf(d);
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->action, ActionKind::kRestart);
  EXPECT_EQ(in->trigger, Trigger::kHardCeiling);
  EXPECT_EQ(in->urgency, Urgency::kCritical);
  EXPECT_NE(in->reason.find("hard ceiling 110% (110 MiB)"), std::string::npos) << in->reason;
  EXPECT_NE(in->reason.find("trim still in flight"), std::string::npos) << in->reason;
  EXPECT_FALSE(actionOf(h.sample(3s, 115)));  // once per excursion
  // The daemon restarted the bot: a fresh state, grace again, every threshold armed.
  onBotStarted(h.state(), h.policy(), h.t0() + 10s);
  EXPECT_FALSE(h.state().in_flight);
  EXPECT_FALSE(h.state().ceiling_fired);
  EXPECT_EQ(actionOf(h.sample(11s, 72)), ActionKind::kTrim);
}

TEST(PolicyHardCeiling, AFailedRestartIsNotRetriedInALoop) {
  Harness h;
  ASSERT_EQ(actionOf(h.sample(0s, 112)), ActionKind::kRestart);
  auto notes = h.result(1s, ActionKind::kRestart, Outcome::kUnsupported, 0, "attach mode without restart_command");
  EXPECT_TRUE(hasNote(notes, "action_result", "restart unsupported"));
  EXPECT_NE(actionOf(h.sample(2s, 112)), ActionKind::kRestart);
  EXPECT_NE(actionOf(h.sample(200s, 112)), ActionKind::kRestart);
}

}  // namespace
}  // namespace memvisor::policy::testing
