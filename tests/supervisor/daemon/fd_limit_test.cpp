// The open-files limit: raised for real in this process, and the arithmetic of the room.
#include "memvisor/daemon/fd_limit.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace memvisor::daemon {
namespace {

TEST(FdLimit, RaisesTheSoftLimitToTheHardLimit) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max < 2048) GTEST_SKIP() << "hard RLIMIT_NOFILE is only " << saved.rlim_max;
  rlimit low = saved;
  low.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const FdLimit l = raiseOpenFileLimit();
  rlimit now{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_TRUE(l.error.empty()) << l.error;
  EXPECT_EQ(l.before, 1024u);
  EXPECT_EQ(l.soft, saved.rlim_max);
  EXPECT_EQ(now.rlim_cur, saved.rlim_max);
  const std::string line = describe(l);
  EXPECT_NE(line.find("raised from 1024 to "), std::string::npos) << line;
  EXPECT_NE(line.find("room for about " + std::to_string(botsThatFit(saved.rlim_max)) + " bots"),
            std::string::npos)
      << line;
}

TEST(FdLimit, SaysSoWhenThereIsNothingToRaise) {
  FdLimit l{4096, 4096, 4096, ""};
  EXPECT_EQ(describe(l), "open files: limit 4096 (soft = hard): room for about " +
                             std::to_string((4096 - kFdReserve) / kFdsPerBot) +
                             " bots at up to " + std::to_string(kFdsPerBot) + " files each");
}

TEST(FdLimit, RoomForBots) {
  EXPECT_EQ(botsThatFit(1024, 8, 128), 112u);  // the default soft limit: about 110 bots
  EXPECT_EQ(botsThatFit(524288, 8, 128), 65520u);
  EXPECT_EQ(botsThatFit(100, 8, 128), 0u);
  EXPECT_EQ(botsThatFit(1000, 0, 0), 0u);
}

}  // namespace
}  // namespace memvisor::daemon
