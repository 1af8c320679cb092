// Finding a process's memory cgroup: /proc/PID/cgroup, mount layout probes, mountinfo, on
// captured v1 and documented v2 trees and on this machine.
#include <gtest/gtest.h>

#include <fstream>

#include "memvisor/sampling/cgroup.hpp"
#include "support/fixtures.hpp"
#include "support/temp_tree.hpp"

namespace memvisor::sampling {
namespace {

using testing::fixture;
using testing::fixturePaths;
using testing::slurp;

TEST(ParseProcCgroup, ReadsV1MemoryAndV2LinesOfCapturedFile) {
  auto r = parseProcCgroup(slurp(fixture("v1_tree/proc/9756/cgroup")));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->v1_memory, std::string("/") + testing::kV1CgroupRel);
  EXPECT_EQ(r->v2, "/");
}

TEST(ParseProcCgroup, HandlesControllerListsColonsInPathsAndV2Only) {
  auto joined = parseProcCgroup("5:cpu,memory,blkio:/bots/a\n0::/\n");
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->v1_memory, "/bots/a");
  auto v2 = parseProcCgroup("0::/system.slice/bot.service\n");
  ASSERT_TRUE(v2.ok());
  EXPECT_FALSE(v2->v1_memory.has_value());
  EXPECT_EQ(v2->v2, "/system.slice/bot.service");
  auto bad = parseProcCgroup(slurp(fixture("hostile/text/proc_cgroup_bad_line")));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "parse");
  auto colon = parseProcCgroup("4:memory:/a:b/c\n");
  ASSERT_TRUE(colon.ok());
  EXPECT_EQ(colon->v1_memory, "/a:b/c");
  auto memory_like = parseProcCgroup("3:name=memoryish:/x\n");  // not the memory controller
  ASSERT_TRUE(memory_like.ok());
  EXPECT_FALSE(memory_like->v1_memory.has_value());
}

TEST(ProbeCgroupMounts, FindsHybridLayoutOfCapturedV1Host) {
  auto paths = fixturePaths("v1_tree");
  auto mounts = probeCgroupMounts(paths);
  EXPECT_EQ(mounts.v1_memory, paths.cgroup_root + "/memory");
  EXPECT_EQ(mounts.v2, paths.cgroup_root + "/unified");
}

TEST(ProbeCgroupMounts, FindsUnifiedLayout) {
  auto paths = fixturePaths("v2_unified");
  auto mounts = probeCgroupMounts(paths);
  EXPECT_FALSE(mounts.v1_memory.has_value());
  EXPECT_EQ(mounts.v2, paths.cgroup_root);
}

TEST(ParseMountInfo, FindsMemoryAndCgroup2MountsInCapturedMountinfo) {
  auto mounts = parseMountInfo(slurp(fixture("v1_tree/proc/self/mountinfo")));
  EXPECT_EQ(mounts.v1_memory, "/sys/fs/cgroup/memory");
  EXPECT_EQ(mounts.v2, "/sys/fs/cgroup/unified");
  auto unified = parseMountInfo(
      "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n");
  EXPECT_FALSE(unified.v1_memory.has_value());
  EXPECT_EQ(unified.v2, "/sys/fs/cgroup");
}

TEST(ResolveCgroup, FindsV1GroupAndV2DirOfCapturedBot) {
  auto paths = fixturePaths("v1_tree");
  auto location = resolveCgroup(paths, testing::kV1Bot);
  ASSERT_TRUE(location.ok()) << location.error().message;
  ASSERT_TRUE(location->hasMemory());
  EXPECT_EQ(*location->memory_version, CgroupVersion::kV1);
  EXPECT_EQ(location->memory_dir, paths.cgroup_root + "/memory/" + testing::kV1CgroupRel);
  // The v2 group "/" exists but carries no memory controller here: kept for PSI only.
  EXPECT_EQ(location->v2_dir, paths.cgroup_root + "/unified");
  EXPECT_EQ(location->describe(), "v1 " + location->memory_dir);
}

TEST(ResolveCgroup, PrefersV2GroupWithMemoryController) {
  auto paths = fixturePaths("v2_unified");
  auto location = resolveCgroup(paths, testing::kV1Bot);
  ASSERT_TRUE(location.ok()) << location.error().message;
  ASSERT_TRUE(location->hasMemory());
  EXPECT_EQ(*location->memory_version, CgroupVersion::kV2);
  EXPECT_EQ(location->memory_dir, paths.cgroup_root + "/system.slice/bot.service");
}

TEST(ResolveCgroup, ReturnsEmptyLocationWhenGroupHasNoMemoryFiles) {
  testing::TempTree t;
  t.write("proc/7/cgroup", slurp(fixture("hostile/text/proc_cgroup_v1_only")));
  t.mkdir("cgroup/memory");  // hierarchy mounted, but "/bot (deleted)" is gone
  SysPaths paths{t.path("proc"), t.path("cgroup")};
  auto location = resolveCgroup(paths, 7);
  ASSERT_TRUE(location.ok()) << location.error().message;
  EXPECT_FALSE(location->hasMemory());
  EXPECT_EQ(location->describe(), "none");
}

TEST(ResolveCgroup, SaysGoneForMissingPid) {
  auto location = resolveCgroup(fixturePaths("hostile"), 502);
  ASSERT_FALSE(location.ok());
  EXPECT_EQ(location.error().code, "gone");
}

TEST(ResolveCgroup, FindsThisProcessV1MemoryGroupOnRealMachine) {
  std::ifstream in("/proc/self/cgroup");
  std::string line, rel;
  while (std::getline(in, line)) {
    auto c1 = line.find(':'), c2 = line.find(':', c1 + 1);
    if (line.substr(c1 + 1, c2 - c1 - 1) == "memory") rel = line.substr(c2 + 1);
  }
  if (rel.empty()) GTEST_SKIP() << "no cgroup v1 memory hierarchy on this machine";
  auto location = resolveCgroup(SysPaths{}, ::getpid());
  ASSERT_TRUE(location.ok()) << location.error().message;
  ASSERT_TRUE(location->hasMemory());
  EXPECT_EQ(*location->memory_version, CgroupVersion::kV1);
  EXPECT_EQ(location->memory_dir, "/sys/fs/cgroup/memory" + (rel == "/" ? std::string() : rel));
}

}  // namespace
}  // namespace memvisor::sampling
