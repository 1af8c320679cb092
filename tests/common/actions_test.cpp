// The one action table: the ladder, the sets and the names every reader derives.
#include "memvisor/actions.hpp"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(ActionTable, TheLadderGoesTrimSweepCompactRestartAndAlertIsOffIt) {
  EXPECT_EQ(nextActionUp(ActionKind::kTrim), ActionKind::kSweep);
  EXPECT_EQ(nextActionUp(ActionKind::kSweep), ActionKind::kCompact);
  EXPECT_EQ(nextActionUp(ActionKind::kCompact), ActionKind::kRestart);
  EXPECT_EQ(nextActionUp(ActionKind::kRestart), ActionKind::kRestart);
  EXPECT_EQ(nextActionUp(ActionKind::kAlert), ActionKind::kAlert);
  EXPECT_EQ(ladderOf(ActionKind::kAlert), 0);
  EXPECT_LT(ladderOf(ActionKind::kTrim), ladderOf(ActionKind::kRestart));
}

TEST(ActionTable, NamesAndSetsComeFromTheRows) {
  EXPECT_EQ(actionNames(ActionSet::kAll), "trim|sweep|compact|restart|alert");
  EXPECT_EQ(actionNames(ActionSet::kToBot), "trim|sweep|compact");
  EXPECT_EQ(actionNames(ActionSet::kLadder), "trim|sweep|compact|restart");
  EXPECT_EQ(findAction("sweep", ActionSet::kToBot), ActionKind::kSweep);
  EXPECT_EQ(findAction("restart", ActionSet::kToBot), std::nullopt);
  EXPECT_EQ(findAction("restart"), ActionKind::kRestart);
  EXPECT_EQ(findAction("drop"), std::nullopt);
  for (const auto& a : kActions) {
    EXPECT_EQ(findAction(a.name), a.kind) << a.name;
    EXPECT_EQ(&actionInfo(a.kind), &a) << a.name;
    EXPECT_FALSE(a.past.empty()) << a.name;
    // Every action the bot runs has a deadline and a ladder position.
    if (a.to_bot) {
      EXPECT_FALSE(a.deadline_key.empty()) << a.name;
      EXPECT_GT(a.ladder, 0) << a.name;
    }
  }
}

}  // namespace
}  // namespace memvisor
