// OwnedCgroup on the real machine: a child of our own memory cgroup named for the bot and the
// memvisord, its kernel limit, a spawned process placed in it before exec, its removal once
// empty, and its re-creation after someone else removed it.
#include "memvisor/daemon/owned_cgroup.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "memvisor/daemon/spawn.hpp"

namespace memvisor::daemon {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(OwnedCgroup, CreatesAChildWithAKernelLimitAndPlacesTheBotInItBeforeExec) {
  const sampling::SysPaths paths;
  const std::string bot = "unit-" + std::to_string(::getpid());
  const std::string tag = OwnedCgroup::instanceTag("/run/memvisor/bot.sock");
  auto cg = OwnedCgroup::create(paths, bot, tag);
  if (!cg) GTEST_SKIP() << "cannot own a memory cgroup here: " << cg.error().message;
  EXPECT_TRUE(cg->dir().ends_with("/memvisor-" + bot + "-" + tag)) << cg->dir();
  ASSERT_TRUE(cg->setLimit(100u << 20, 80u << 20).ok());
  if (cg->version() == sampling::CgroupVersion::kV1) {
    EXPECT_EQ(std::stoll(slurp(cg->dir() + "/memory.limit_in_bytes")), 100ll << 20);
  } else {
    EXPECT_EQ(std::stoll(slurp(cg->dir() + "/memory.max")), 100ll << 20);
    EXPECT_EQ(std::stoll(slurp(cg->dir() + "/memory.high")), 80ll << 20);
  }
  SpawnSpec spec;
  spec.argv = {"sleep", "30"};
  spec.env = mergeEnvironment({});
  spec.cgroup_procs_path = cg->procsPath();
  auto p = spawnProcess(spec);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const std::string procs = slurp(cg->procsPath());
  EXPECT_NE(procs.find(std::to_string(p->pid)), std::string::npos) << procs;
  EXPECT_FALSE(cg->remove());  // not empty yet
  ::kill(p->pid, SIGKILL);
  int status = 0;
  ::waitpid(p->pid, &status, 0);
  EXPECT_TRUE(cg->remove());
}

TEST(OwnedCgroup, TheInstanceTagIsStableForOneBotSocketAndDiffersBetweenTwo) {
  const std::string a = OwnedCgroup::instanceTag("/run/memvisor/bot.sock");
  EXPECT_EQ(a.size(), 8u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
  EXPECT_EQ(a, OwnedCgroup::instanceTag("/run/memvisor/bot.sock"));  // what takeover relies on
  EXPECT_EQ(a, "3373fe2c");  // FNV-1a: the same on every build, not std::hash's choice
  EXPECT_NE(a, OwnedCgroup::instanceTag("/run/memvisor-2/bot.sock"));
}

TEST(OwnedCgroup, IsCreatedAgainWhenSomeoneRemovedItAndSaysSo) {
  const sampling::SysPaths paths;
  auto cg = OwnedCgroup::create(paths, "unit-gone-" + std::to_string(::getpid()), "00000000");
  if (!cg) GTEST_SKIP() << "cannot own a memory cgroup here: " << cg.error().message;
  auto there = cg->recreateIfMissing();
  ASSERT_TRUE(there.ok()) << there.error().message;
  EXPECT_FALSE(*there);
  ASSERT_EQ(::rmdir(cg->dir().c_str()), 0);
  auto back = cg->recreateIfMissing();
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(*back);
  EXPECT_TRUE(std::filesystem::exists(cg->procsPath()));
  EXPECT_TRUE(cg->remove());
}

TEST(OwnedCgroup, ReCreationUnderAParentThatIsGoneIsAnErrorNamingTheGroup) {
  auto cg = OwnedCgroup::adopt(sampling::CgroupVersion::kV1, "/nonexistent/memvisor-x-00000000");
  auto r = cg.recreateIfMissing();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "enoent");
  EXPECT_NE(r.error().message.find("/nonexistent/memvisor-x-00000000"), std::string::npos)
      << r.error().message;
}

TEST(OwnedCgroup, FailsWithTheStepWhenJoiningTheCgroupIsImpossible) {
  SpawnSpec spec;
  spec.argv = {"true"};
  spec.cgroup_procs_path = "/nonexistent/cgroup.procs";
  auto p = spawnProcess(spec);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, "enoent");
}

}  // namespace
}  // namespace memvisor::daemon
