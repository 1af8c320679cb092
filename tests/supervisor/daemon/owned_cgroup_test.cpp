// OwnedCgroup on the real machine: a child of our own memory cgroup, its kernel limit, a
// spawned process placed in it before exec, and its removal once empty.
#include "memvisor/daemon/owned_cgroup.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
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
  auto cg = OwnedCgroup::create(paths, "unit-" + std::to_string(::getpid()));
  if (!cg) GTEST_SKIP() << "cannot own a memory cgroup here: " << cg.error().message;
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
