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

TEST(MapCgroupPath, PicksTheLongestRootThatIsAPrefixComponentWise) {
  const std::vector<CgroupMount> mounts{{"/", "/host/memory"},
                                        {"/docker/self", "/sys/fs/cgroup/memory"},
                                        {"/docker/bot", "/botcg"}};
  struct Case {
    const char* path;
    std::optional<std::string> dir;
  } cases[] = {
      {"/docker/bot", "/botcg"},
      {"/docker/bot/worker", "/botcg/worker"},
      {"/docker/self", "/sys/fs/cgroup/memory"},
      {"/docker/botany", "/host/memory/docker/botany"},  // not under "/docker/bot"
      {"/", "/host/memory"},
  };
  for (const auto& c : cases) EXPECT_EQ(mapCgroupPath(mounts, c.path), c.dir) << c.path;
  // A container's own group only: another container's group is not visible.
  EXPECT_EQ(mapCgroupPath({{"/docker/self", "/sys/fs/cgroup/memory"}}, "/docker/bot"),
            std::nullopt);
  // cgroup namespaces spell groups outside the namespace with "/..": matched as text.
  EXPECT_EQ(mapCgroupPath({{"/../bot", "/botcg"}}, "/../bot"), "/botcg");
}

TEST(ParseMountInfo, KeepsEveryMountWithItsRootAndDecodesEscapes) {
  auto m = parseMountInfo(
      "35 31 0:32 /docker/self /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n"
      "90 31 0:32 / /host/cgroup\\040memory rw - cgroup cgroup rw,memory\n"
      "91 31 0:38 /../bot /botcg2 rw - cgroup2 cgroup2 rw\n");
  ASSERT_EQ(m.v1_memory_mounts.size(), 2u);
  EXPECT_EQ(m.v1_memory_mounts[0], (CgroupMount{"/docker/self", "/sys/fs/cgroup/memory"}));
  EXPECT_EQ(m.v1_memory_mounts[1], (CgroupMount{"/", "/host/cgroup memory"}));
  ASSERT_EQ(m.v2_mounts.size(), 1u);
  EXPECT_EQ(m.v2_mounts[0], (CgroupMount{"/../bot", "/botcg2"}));
  EXPECT_EQ(m.v1_memory, "/sys/fs/cgroup/memory");
}

// A sidecar container (memvisord) next to the bot's container, docker with cgroup v1: its own
// group is mounted at /sys/fs/cgroup/memory with root /docker/<self>; the bot's pid says
// /docker/<bot>. Written by hand after Docker 20.10's layout (cgroupfs driver, host cgroupns).
class SidecarTree : public ::testing::Test {
 protected:
  void SetUp() override {
    t.write("proc/42/cgroup", "12:memory:/docker/bot\n0::/docker/bot\n");
    t.write("cgroup/memory/memory.usage_in_bytes", "1000\n");  // memvisord's own group
    t.mkdir("cgroup/unified");
    paths = SysPaths{t.path("proc"), t.path("cgroup")};
  }
  void mounts(const std::string& extra) {
    t.write("proc/self/mountinfo",
            "31 23 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
            "35 31 0:32 /docker/self /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n"
            "41 31 0:38 /docker/self /sys/fs/cgroup/unified ro - cgroup2 cgroup2 rw\n" +
                extra);
  }
  testing::TempTree t;
  SysPaths paths;
};

TEST_F(SidecarTree, NeverTakesItsOwnContainersGroupForTheBots) {
  mounts("");
  auto location = resolveCgroup(paths, 42);
  ASSERT_TRUE(location.ok()) << location.error().message;
  EXPECT_FALSE(location->hasMemory()) << location->describe();
}

TEST_F(SidecarTree, FindsTheBotsGroupInTheHostHierarchyMountedAnywhere) {
  const std::string host = t.mkdir("host/memory");
  t.write("host/memory/docker/bot/memory.usage_in_bytes", "2000\n");
  mounts("90 31 0:32 / " + host + " rw,relatime - cgroup cgroup rw,memory\n");
  auto location = resolveCgroup(paths, 42);
  ASSERT_TRUE(location.ok()) << location.error().message;
  ASSERT_TRUE(location->hasMemory());
  EXPECT_EQ(*location->memory_version, CgroupVersion::kV1);
  EXPECT_EQ(location->memory_dir, host + "/docker/bot");
}

TEST_F(SidecarTree, FindsTheBotsGroupBindMountedOnItsOwn) {
  const std::string bot = t.mkdir("botcg");
  t.write("botcg/memory.usage_in_bytes", "2000\n");
  // Under /sys/fs/cgroup: rebased onto the tree like the other cgroup mounts.
  t.write("cgroup/bot-memory/memory.usage_in_bytes", "3000\n");
  mounts("90 31 0:32 /docker/bot /sys/fs/cgroup/bot-memory rw - cgroup cgroup rw,memory\n");
  auto location = resolveCgroup(paths, 42);
  ASSERT_TRUE(location.ok()) << location.error().message;
  ASSERT_TRUE(location->hasMemory());
  EXPECT_EQ(location->memory_dir, t.path("cgroup") + "/bot-memory");
}

TEST_F(SidecarTree, FindsAV2GroupThroughAPrivateCgroupNamespace) {
  // cgroup v2, memvisord in its own cgroup namespace: the bot's group is "/../bot".
  t.write("proc/43/cgroup", "0::/../bot\n");
  const std::string bot = t.mkdir("botcg2");
  t.write("botcg2/memory.current", "4096\n");
  mounts("92 31 0:38 /../bot " + bot + " rw - cgroup2 cgroup2 rw\n");
  auto location = resolveCgroup(paths, 43);
  ASSERT_TRUE(location.ok()) << location.error().message;
  ASSERT_TRUE(location->hasMemory());
  EXPECT_EQ(*location->memory_version, CgroupVersion::kV2);
  EXPECT_EQ(location->memory_dir, bot);
  EXPECT_EQ(location->v2_dir, bot);
}

TEST(ClassifyCgroupMembers, TellsTheBotsOwnGroupFromASharedOne) {
  testing::TempTree t;
  // 1 init -> 10 tini -> 20 bot -> 21 worker; 30 unrelated (ppid 1); 99 memvisord.
  auto stat = [&](pid_t pid, pid_t ppid, const std::string& comm) {
    t.write("proc/" + std::to_string(pid) + "/stat",
            std::to_string(pid) + " (" + comm + ") S " + std::to_string(ppid) + " 1 1 0\n");
  };
  stat(10, 1, "tini");
  stat(20, 10, "bot) S 30 (x");  // a hostile comm must not fool the ppid parse
  stat(21, 20, "worker");
  stat(30, 1, "other");
  stat(99, 1, "memvisord");
  SysPaths paths{t.path("proc"), t.path("cgroup")};
  t.write("cgroup/own/cgroup.procs", "10\n20\n21\n");
  t.write("cgroup/shared/cgroup.procs", "20\n21\n30\n");
  t.write("cgroup/self/cgroup.procs", "20\n99\n21\n30\n77\n");  // 77 vanished

  auto own = classifyCgroupMembers(paths, t.path("cgroup/own"), 20, 99);
  ASSERT_TRUE(own.ok()) << own.error().message;
  EXPECT_FALSE(own->shared());
  EXPECT_EQ(own->members, 3u);
  EXPECT_EQ(own->describe(), "");

  auto shared = classifyCgroupMembers(paths, t.path("cgroup/shared"), 20, 99);
  ASSERT_TRUE(shared.ok());
  EXPECT_TRUE(shared->shared());
  EXPECT_EQ(shared->foreign, 1u);
  EXPECT_EQ(shared->describe(), "holds processes besides the bot's");

  auto self = classifyCgroupMembers(paths, t.path("cgroup/self"), 20, 99);
  ASSERT_TRUE(self.ok());
  EXPECT_TRUE(self->holds_self);
  EXPECT_EQ(self->members, 5u);
  EXPECT_EQ(self->describe(), "holds memvisord itself and 4 other processes");

  auto missing = classifyCgroupMembers(paths, t.path("cgroup/none"), 20, 99);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "enoent");
}

}  // namespace
}  // namespace memvisor::sampling
