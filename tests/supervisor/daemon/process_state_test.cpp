// RestartPolicy: capped exponential backoff and the crash-loop limit (pure arithmetic).
#include "memvisor/daemon/process_state.hpp"

#include <gtest/gtest.h>

namespace memvisor::daemon {
namespace {

using std::chrono::milliseconds;

RestartOptions options() {
  RestartOptions o;
  o.initial_backoff = milliseconds(100);
  o.max_backoff = milliseconds(1000);
  o.factor = 2.0;
  o.crash_loop_limit = 6;
  o.stable_after = milliseconds(5000);
  return o;
}

TEST(RestartPolicy, DoublesTheDelayUpToTheCapWhenExitsComeQuickly) {
  RestartPolicy p(options());
  const std::int64_t expected[] = {100, 200, 400, 800, 1000, 1000};
  for (std::int64_t e : expected) {
    const auto d = p.onExit(milliseconds(10));
    EXPECT_FALSE(d.give_up);
    EXPECT_EQ(d.delay.count(), e);
  }
}

TEST(RestartPolicy, GivesUpAfterTheCrashLoopLimitWhenEveryRunIsShort) {
  RestartPolicy p(options());
  for (int i = 0; i < 6; ++i) EXPECT_FALSE(p.onExit(milliseconds(10)).give_up);
  const auto d = p.onExit(milliseconds(10));
  EXPECT_TRUE(d.give_up);
  EXPECT_EQ(d.failures, 7);
}

TEST(RestartPolicy, StartsAFreshSeriesWhenTheProcessRanLongEnough) {
  RestartPolicy p(options());
  for (int i = 0; i < 5; ++i) (void)p.onExit(milliseconds(10));
  const auto d = p.onExit(milliseconds(6000));
  EXPECT_FALSE(d.give_up);
  EXPECT_EQ(d.failures, 1);
  EXPECT_EQ(d.delay.count(), 100);
}

TEST(RestartPolicy, ForgetsFailuresWhenReset) {
  RestartPolicy p(options());
  for (int i = 0; i < 6; ++i) (void)p.onExit(milliseconds(10));
  p.reset();
  EXPECT_EQ(p.onExit(milliseconds(10)).delay.count(), 100);
}

TEST(ProcessState, NamesStatesAsSupervisordDoes) {
  EXPECT_STREQ(toString(ProcessState::kBackoff), "BACKOFF");
  EXPECT_STREQ(toString(ProcessState::kFatal), "FATAL");
  EXPECT_STREQ(toString(ProcessState::kStopping), "STOPPING");
}

}  // namespace
}  // namespace memvisor::daemon
