// cgroup v1 and v2 memory accounting on captured v1 trees, documented-format v2 trees and
// hostile files.
#include <gtest/gtest.h>

#include "memvisor/sampling/cgroup_memory.hpp"
#include "support/fixtures.hpp"
#include "support/temp_tree.hpp"

namespace memvisor::sampling {
namespace {

using testing::fixture;
using testing::slurp;

std::string v1Dir(const std::string& scenario, const std::string& suffix = "") {
  return fixture(scenario + "/sys/fs/cgroup/memory/" + testing::kV1CgroupRel + suffix);
}

TEST(ReadCgroupV1Memory, ReadsCapturedGroup) {
  auto r = readCgroupV1Memory(v1Dir("v1_tree"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, CgroupVersion::kV1);
  EXPECT_EQ(r->usage_bytes, 126722048u);
  EXPECT_EQ(r->limit_bytes, 268435456u);
  EXPECT_FALSE(r->high_bytes.has_value());
  EXPECT_EQ(r->stat.anon_bytes, 108687360u);
  EXPECT_EQ(r->stat.file_bytes, 16781312u);
  EXPECT_EQ(r->stat.inactive_file_bytes, 16777216u);
  EXPECT_EQ(r->working_set_bytes, 126722048u - 16777216u);
  EXPECT_EQ(r->oom_kill_count, 0u);
  EXPECT_EQ(r->failcnt, 0u);
  EXPECT_FALSE(r->events.has_value());
}

TEST(ReadCgroupV1Memory, CountsOomKillOfCapturedGroup) {
  auto r = readCgroupV1Memory(v1Dir("v1_oom", "-oom"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->oom_kill_count, 1u);
  EXPECT_EQ(r->failcnt, 102u);
  EXPECT_EQ(r->limit_bytes, 32u << 20);
}

TEST(ReadCgroupV1Memory, NamesTheMissingFile) {
  testing::TempTree t;
  for (const char* f : {"memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat",
                        "memory.oom_control"}) {
    t.write(f, slurp(v1Dir("v1_tree") + "/" + f));
  }
  auto r = readCgroupV1Memory(t.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "enoent");
  EXPECT_EQ(r.error().message,
            "reading " + t.path("memory.failcnt") + ": No such file or directory");
}

TEST(ReadCgroupV2Memory, ReadsDocumentedFormatGroup) {
  auto dir = fixture("v2_unified/sys/fs/cgroup/system.slice/bot.service");
  auto r = readCgroupV2Memory(dir);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->version, CgroupVersion::kV2);
  EXPECT_EQ(r->usage_bytes, 318767104u);
  EXPECT_EQ(r->limit_bytes, 402653184u);  // 384 MiB
  EXPECT_FALSE(r->high_bytes.has_value());  // "max"
  EXPECT_EQ(r->stat.anon_bytes, 251658240u);
  EXPECT_EQ(r->stat.file_bytes, 58720256u);
  EXPECT_EQ(r->working_set_bytes, 318767104u - 41943040u);
  ASSERT_TRUE(r->events.has_value());
  EXPECT_EQ(r->events->max, 14u);
  EXPECT_EQ(r->events->oom, 3u);
  EXPECT_EQ(r->oom_kill_count, 2u);
  ASSERT_TRUE(r->pressure.has_value());
  EXPECT_DOUBLE_EQ(r->pressure->some.avg10, 3.10);
  ASSERT_TRUE(r->pressure->full.has_value());
  EXPECT_EQ(r->pressure->full->total_us, 5120933u);
  EXPECT_FALSE(r->failcnt.has_value());
}

TEST(ReadCgroupV2Memory, ReadsUnlimitedGroupWithoutPressureFile) {
  auto r = readCgroupV2Memory(fixture("v2_unlimited/sys/fs/cgroup/user.slice/bot"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->limit_bytes.has_value());
  EXPECT_EQ(r->high_bytes, 268435456u);
  EXPECT_EQ(r->events->high, 5u);
  EXPECT_EQ(r->events->oom_group_kill, 0u);  // absent key on older kernels
  EXPECT_FALSE(r->pressure.has_value());
  EXPECT_EQ(r->working_set_bytes, 73728000u - 10240000u);
}

TEST(ReadCgroupMemory, DispatchesOnVersionAndRefusesNone) {
  CgroupLocation none;
  auto r = readCgroupMemory(none);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "no_cgroup");
  CgroupLocation v1{CgroupVersion::kV1, v1Dir("v1_tree"), std::nullopt};
  auto ok = readCgroupMemory(v1);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->usage_bytes, 126722048u);
}

TEST(ParseLimits, TreatsMaxAndHugeV1ValuesAsUnlimited) {
  auto v1_unlimited = parseV1Limit(slurp(fixture("hostile/text/v1_limit_unlimited")));
  ASSERT_TRUE(v1_unlimited.ok());
  EXPECT_FALSE(v1_unlimited->has_value());
  auto v1 = parseV1Limit("268435456\n");
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(*v1, 268435456u);
  auto v2 = parseV2Limit("max\n");
  ASSERT_TRUE(v2.ok());
  EXPECT_FALSE(v2->has_value());
  auto v2n = parseV2Limit("402653184\n");
  ASSERT_TRUE(v2n.ok());
  EXPECT_EQ(*v2n, 402653184u);
  for (const char* bad : {"", "maxx", "12 34", "-1"}) {
    auto r = parseV2Limit(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(ParseMemoryStat, ReportsMissingKeyAndTruncatedEvents) {
  auto stat = parseV1MemoryStat(slurp(fixture("hostile/text/v1_memory_stat_no_inactive_file")));
  ASSERT_FALSE(stat.ok());
  EXPECT_EQ(stat.error().code, "missing_field");
  EXPECT_EQ(stat.error().message, "missing field total_inactive_file in memory.stat");
  auto events = parseV2MemoryEvents(slurp(fixture("hostile/text/v2_memory_events_truncated")));
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.error().code, "parse");
  auto oom = parseV1OomControl("under_oom 0\n");
  ASSERT_FALSE(oom.ok());
  EXPECT_EQ(oom.error().code, "missing_field");
  // Before Linux 4.13 there is no oom_kill line: zero, not an error.
  auto old = parseV1OomControl("oom_kill_disable 0\nunder_oom 1\n");
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->under_oom);
  EXPECT_EQ(old->oom_kill, 0u);
}

TEST(WorkingSet, NeverUnderflows) {
  EXPECT_EQ(workingSet(100, 30), 70u);
  EXPECT_EQ(workingSet(30, 100), 0u);
}

}  // namespace
}  // namespace memvisor::sampling
