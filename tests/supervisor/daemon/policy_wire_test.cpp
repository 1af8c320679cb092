// The daemon's translation of the policy's own types to the wire's and the journal's.
#include "memvisor/daemon/policy_wire.hpp"

#include <gtest/gtest.h>

namespace memvisor::daemon {
namespace {

TEST(PolicyWire, TranslatesEveryUrgencyAndLevelToTheSameName) {
  for (auto u : {policy::Urgency::kLow, policy::Urgency::kNormal, policy::Urgency::kHigh,
                 policy::Urgency::kCritical}) {
    EXPECT_STREQ(proto::toString(toProto(u)), policy::toString(u));
  }
  for (auto l : {policy::Level::kDebug, policy::Level::kInfo, policy::Level::kWarn,
                 policy::Level::kError}) {
    EXPECT_STREQ(proto::toString(toProto(l)), policy::toString(l));
  }
}

TEST(PolicyWire, NoteBecomesAJournalEntryOfTheBotAtTheTime) {
  policy::Note n{policy::Level::kWarn, "threshold", "rss 82 MiB >= sweep threshold", {{"a", "1"}}};
  auto e = toJournalEntry(n, "amayo", 1234);
  EXPECT_EQ(e.bot, "amayo");
  EXPECT_EQ(e.ts_ms, 1234);
  EXPECT_EQ(e.kind, "threshold");
  EXPECT_EQ(e.level, proto::Level::kWarn);
  EXPECT_EQ(e.message, n.message);
  EXPECT_EQ(e.fields, n.fields);
}

}  // namespace
}  // namespace memvisor::daemon
