// spawnProcess over real fork/exec: exit status, environment, cwd, process group, and the
// errors of each step reported from the child.
#include "memvisor/daemon/spawn.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "memvisor/daemon/signaller.hpp"

namespace memvisor::daemon {
namespace {

namespace fs = std::filesystem;

fs::path tempDir() {
  std::string tmpl = (fs::temp_directory_path() / "memvisor-spawn-XXXXXX").string();
  return fs::path(::mkdtemp(tmpl.data()));
}

int waitExit(pid_t pid) {
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Running (not gone, not a zombie waiting for a reaper that may never come).
bool alive(pid_t pid) {
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

TEST(Spawn, ReportsTheExitCodeOfTheChildWhenItExits) {
  SpawnSpec spec;
  spec.argv = {"sh", "-c", "exit 3"};
  spec.env = mergeEnvironment({});
  auto p = spawnProcess(spec);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const int status = waitExit(p->pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

TEST(Spawn, PassesEnvironmentAndCwdWhenGiven) {
  const fs::path dir = tempDir();
  SpawnSpec spec;
  spec.argv = {"sh", "-c", "echo \"$CACHE_MESSAGES_LIMIT $MEMVISOR_SOCKET $(pwd)\" > out"};
  spec.env = mergeEnvironment({{"CACHE_MESSAGES_LIMIT", "50"}, {"MEMVISOR_SOCKET", "/x.sock"}});
  spec.cwd = dir.string();
  auto p = spawnProcess(spec);
  ASSERT_TRUE(p.ok()) << p.error().message;
  waitExit(p->pid);
  EXPECT_EQ(slurp(dir / "out"), "50 /x.sock " + fs::canonical(dir).string() + "\n");
  fs::remove_all(dir);
}

TEST(Spawn, MakesTheChildLeaderOfANewProcessGroup) {
  SpawnSpec spec;
  spec.argv = {"sleep", "30"};
  spec.env = mergeEnvironment({});
  auto p = spawnProcess(spec);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(::getpgid(p->pid), p->pid);
  EXPECT_NE(::getpgid(p->pid), ::getpgrp());
  PidfdSignaller s;
  ASSERT_TRUE(s.signal(p->pidfd, SIGKILL, true).ok());
  const int status = waitExit(p->pid);
  EXPECT_TRUE(WIFSIGNALED(status));
}

TEST(Spawn, FailsNamingExecWhenTheProgramDoesNotExist) {
  SpawnSpec spec;
  spec.argv = {"/nonexistent/memvisor-no-such-bot"};
  spec.env = mergeEnvironment({});
  auto p = spawnProcess(spec);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, "enoent");
  EXPECT_NE(p.error().message.find("exec of /nonexistent/memvisor-no-such-bot"), std::string::npos)
      << p.error().message;
}

TEST(Spawn, FailsNamingChdirWhenTheCwdDoesNotExist) {
  SpawnSpec spec;
  spec.argv = {"true"};
  spec.cwd = "/nonexistent/memvisor-dir";
  auto p = spawnProcess(spec);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("chdir"), std::string::npos) << p.error().message;
}

TEST(Spawn, FailsWhenTheUserIsUnknown) {
  SpawnSpec spec;
  spec.argv = {"true"};
  spec.user = "memvisor-no-such-user";
  auto p = spawnProcess(spec);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, "unknown_user");
}

TEST(Spawn, RunsAsTheConfiguredUserWhenRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to change user";
  const fs::path dir = tempDir();
  fs::permissions(dir, fs::perms::all);
  SpawnSpec spec;
  spec.argv = {"sh", "-c", "id -u > out"};
  spec.cwd = dir.string();
  spec.user = "65534";  // nobody
  spec.env = mergeEnvironment({});
  auto p = spawnProcess(spec);
  ASSERT_TRUE(p.ok()) << p.error().message;
  waitExit(p->pid);
  EXPECT_EQ(slurp(dir / "out"), "65534\n");
  fs::remove_all(dir);
}

TEST(Pidfd, SignalsTheWholeGroupThroughTheLeadersPidfdAfterTheLeaderWasReaped) {
  // The leader exits at once; its background child stays in the group.
  const fs::path dir = tempDir();
  SpawnSpec spec;
  spec.argv = {"sh", "-c", "sleep 30 & echo $! > pid"};
  spec.cwd = dir.string();
  spec.env = mergeEnvironment({});
  auto p = spawnProcess(spec);
  ASSERT_TRUE(p.ok()) << p.error().message;
  waitExit(p->pid);
  const pid_t worker = std::stoi(slurp(dir / "pid"));
  ASSERT_TRUE(alive(worker));
  PidfdSignaller s;
  ASSERT_TRUE(s.signal(p->pidfd, SIGKILL, true).ok());
  // The worker was re-parented (not our child): wait for it to vanish.
  for (int i = 0; i < 200 && alive(worker); ++i) ::usleep(10000);
  EXPECT_FALSE(alive(worker));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace memvisor::daemon
