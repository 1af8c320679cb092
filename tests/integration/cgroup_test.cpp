// memvisord and its bot inside a v1 memory cgroup the test creates with a kernel limit:
// detection is event-driven for real (threshold eventfds on memory.usage_in_bytes), and the
// bot is kept under memvisor's limit without the kernel ever OOM-killing it. And the groups
// memvisord creates for its bots: one per memvisord and bot, there again after someone
// removed one while its bot was stopped.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "ctl_run.hpp"
#include "daemon_harness.hpp"

namespace memvisor::testing {
namespace {

const std::string kBot = MEMVISOR_BOT_BIN;

// <v1 memory mount><our cgroup>, or empty when this machine has no v1 memory controller.
std::string ownMemoryCgroup() {
  const std::string dir = memoryCgroupOf(::getpid());
  return !dir.empty() && fs::exists(dir + "/memory.limit_in_bytes") ? dir : "";
}

class TestCgroup {
 public:
  explicit TestCgroup(const std::string& parent) {
    std::random_device rd;
    dir =
        parent + "/memvisor-it-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000);
    created = ::mkdir(dir.c_str(), 0755) == 0;
  }
  ~TestCgroup() {
    if (!created) return;
    // Anything left inside (it should not be) is killed so the group can go.
    for (int i = 0; i < 100 && ::rmdir(dir.c_str()) != 0; ++i) {
      std::istringstream procs(slurp(dir + "/cgroup.procs"));
      pid_t p;
      while (procs >> p) ::kill(p, SIGKILL);
      std::this_thread::sleep_for(50ms);
    }
  }
  bool write(const std::string& file, const std::string& value) const {
    std::ofstream out(dir + "/" + file);
    out << value;
    out.flush();
    return out.good();
  }
  long long read(const std::string& file, const std::string& key = "") const {
    const std::string text = slurp(dir + "/" + file);
    if (key.empty()) return std::atoll(text.c_str());
    const auto at = text.find(key + " ");
    return at == std::string::npos ? -1 : std::atoll(text.c_str() + at + key.size() + 1);
  }
  std::string dir;
  bool created = false;
};

TEST(CgroupV1, WakesOnKernelThresholdEventsAndKeepsTheBotFromTheOomKiller) {
  const std::string parent = ownMemoryCgroup();
  if (parent.empty()) GTEST_SKIP() << "no cgroup v1 memory controller in /proc/self/cgroup";
  TestCgroup cg(parent);
  if (!cg.created)
    GTEST_SKIP() << "cannot create a child cgroup under " << parent << ": " << std::strerror(errno);
  if (::access((cg.dir + "/cgroup.event_control").c_str(), W_OK) != 0) {
    GTEST_SKIP() << "cgroup.event_control not writable in " << cg.dir;
  }
  // The kernel backstop, well above memvisor's limit.
  ASSERT_TRUE(cg.write("memory.limit_in_bytes", std::to_string(192ll << 20)));

  Daemon d("cgroup");
  // Slow polling, so that the crossings are noticed through the kernel's eventfds.
  d.writeConfig(R"(  - name: cgev
    limit: 96MiB
    metric: cgroup
    startup_grace: 1s
    poll: {min: 3s, max: 10s}
    thresholds:
      - {at: 60%, action: sweep, cooldown: 2s}
      - {at: 75%, action: compact, cooldown: 2s}
      - {at: 100%, action: restart, for: 30s}
    spawn:
      command: [)" +
                kBot + R"(, --bloat, --rate, "8000", --progress-interval, "0"]
)");
  d.start(cg.dir + "/cgroup.procs");
  auto detection = d.waitForKind("detection", 20s);
  ASSERT_TRUE(detection) << d.journalText();
  EXPECT_EQ(str(*detection, "event_driven"), "true") << str(*detection, "msg");
  EXPECT_NE(str(*detection, "msg").find("cgroup v1 thresholds on " + cg.dir), std::string::npos)
      << str(*detection, "msg");

  // A crossing is acted upon, and compact brings the group back under memvisor's limit.
  auto first = d.waitForKind("threshold", 40s);
  ASSERT_TRUE(first) << d.journalText();
  ASSERT_TRUE(d.waitFor(
      [](const json& e) {
        return str(e, "kind") == "action" && str(e, "action") == "compact" &&
               str(e, "result") == "ok";
      },
      40s))
      << d.journalText();
  // Polling every 3-10 s at ~9 MB/s would notice the crossing tens of MiB late; the eventfd
  // wakes memvisord within about a MiB of it.
  EXPECT_LT(num(*first, "figure") - num(*first, "threshold_bytes"), 24ll << 20)
      << str(*first, "msg");

  ASSERT_EQ(d.stop(), 0) << d.journalText();
  auto summary = summaryOf(d, "cgev");
  ASSERT_TRUE(summary);
  EXPECT_GT(num(*summary, "kernel_wakeups"), 0) << d.journalText();
  EXPECT_EQ(num(*summary, "restarts"), 0);
  EXPECT_EQ(num(*summary, "oom_kills"), 0);
  // The kernel's own view: the group was never OOM-killed and never reached its limit.
  EXPECT_EQ(cg.read("memory.oom_control", "oom_kill"), 0);
  EXPECT_LT(cg.read("memory.max_usage_in_bytes"), 192ll << 20);
}

TEST(CgroupV1, JournalsAndCountsTheKernelsOomKillsInTheCgroupItOwns) {
  if (ownMemoryCgroup().empty()) GTEST_SKIP() << "no cgroup v1 memory controller";
  Daemon d("oom");
  // Deliberately wrong: only an alert, no ceiling, and the kernel limit 10% above the limit,
  // so that a fast leak meets the kernel's OOM killer before anything else.
  d.writeConfig(R"(  - name: oomed
    limit: 64MiB
    kernel_limit_margin: 10%
    hard_ceiling: none
    poll: {min: 100ms, max: 500ms}
    thresholds:
      - {at: 90%, action: alert}
    restart: {backoff_initial: 5s, start_seconds: 30s}
    spawn:
      command: [)" +
                kBot + R"(, --leak, 32MiB, --rate, "50", --progress-interval, "0"]
)");
  d.start();
  auto cg = d.waitForKind("cgroup", 20s);
  ASSERT_TRUE(cg) << d.journalText();
  if (num(*cg, "kernel_limit") == 0)
    GTEST_SKIP() << "memvisord cannot own a cgroup here: " << str(*cg, "msg");
  auto oom = d.waitForKind("oom_kill", 30s);
  ASSERT_TRUE(oom) << d.journalText();
  EXPECT_EQ(num(*oom, "count"), 1);
  auto exit = d.waitForKind("exit", 10s);
  ASSERT_TRUE(exit);
  EXPECT_EQ(str(*exit, "status"), "signal 9 (KILL)");
  EXPECT_EQ(str(*exit, "expected"), "false");
  ASSERT_EQ(d.stop(), 0) << d.journalText();
  auto summary = summaryOf(d, "oomed");
  ASSERT_TRUE(summary);
  EXPECT_EQ(num(*summary, "oom_kills"), 1);
}

std::string ownedBotYaml(const std::string& limit) {
  return "  - name: amayo\n    limit: " + limit +
         "\n    kernel_limit_margin: 25%\n    poll: {min: 100ms, max: 1s}\n"
         "    stop_timeout: 3s\n    spawn:\n      command: [" +
         kBot + ", --rate, \"50\", --progress-interval, \"0\"]\n";
}

// The `cgroup` entry that says whether memvisord owns a group for the bot: with
// kernel_limit when it does, "cannot own..." when this machine does not let it.
std::optional<json> ownedGroupEntry(Daemon& d) {
  return d.waitFor([](const json& j) {
    return str(j, "kind") == "cgroup" &&
           (num(j, "kernel_limit") > 0 || str(j, "msg").rfind("cannot own", 0) == 0);
  }, 20s);
}

// Two memvisords in one cgroup (two deployments started from one shell; tests side by side),
// each with a bot called amayo: before, both bots went into <cgroup>/memvisor-amayo, and each
// memvisord wrote its kernel limit over the other's.
TEST(OwnedCgroup, TwoMemvisordsInOneCgroupGiveTheirSameNamedBotsGroupsOfTheirOwn) {
  if (ownMemoryCgroup().empty()) GTEST_SKIP() << "no cgroup v1 memory controller";
  Daemon a("owned-a"), b("owned-b");
  a.writeConfig(ownedBotYaml("256MiB"));
  b.writeConfig(ownedBotYaml("128MiB"));
  a.start();
  b.start();
  auto owned_a = ownedGroupEntry(a);
  auto owned_b = ownedGroupEntry(b);
  ASSERT_TRUE(owned_a && owned_b) << a.journalText() << b.journalText();
  if (num(*owned_a, "kernel_limit") == 0)
    GTEST_SKIP() << "memvisord cannot own a cgroup here: " << str(*owned_a, "msg");
  const std::string dir_a = str(*owned_a, "cgroup"), dir_b = str(*owned_b, "cgroup");
  EXPECT_NE(dir_a, dir_b);
  auto spawn_a = a.waitForKind("spawn", 20s);
  auto spawn_b = b.waitForKind("spawn", 20s);
  ASSERT_TRUE(spawn_a && spawn_b) << a.journalText() << b.journalText();
  EXPECT_EQ(memoryCgroupOf(static_cast<pid_t>(num(*spawn_a, "pid"))), dir_a);
  EXPECT_EQ(memoryCgroupOf(static_cast<pid_t>(num(*spawn_b, "pid"))), dir_b);
  // Each group keeps its own memvisord's limit + 25 %.
  EXPECT_EQ(std::atoll(slurp(dir_a + "/memory.limit_in_bytes").c_str()), 320ll << 20);
  EXPECT_EQ(std::atoll(slurp(dir_b + "/memory.limit_in_bytes").c_str()), 160ll << 20);
  EXPECT_EQ(a.stop(), 0) << a.journalText();
  EXPECT_EQ(b.stop(), 0) << b.journalText();
  EXPECT_FALSE(fs::exists(dir_a)) << "removed once its bot is gone";
  EXPECT_FALSE(fs::exists(dir_b));
}

// An operator (or a release agent, or a cleanup script) removes the empty group while the bot
// is stopped. Before, every later start failed on "opening .../cgroup.procs" and the bot went
// from BACKOFF to FATAL.
TEST(OwnedCgroup, AGroupRemovedWhileTheBotWasStoppedIsCreatedAgainWithItsLimitAtTheNextStart) {
  if (ownMemoryCgroup().empty()) GTEST_SKIP() << "no cgroup v1 memory controller";
  Daemon d("owned-gone");
  d.writeConfig(ownedBotYaml("256MiB"));
  d.start();
  auto owned = ownedGroupEntry(d);
  ASSERT_TRUE(owned) << d.journalText();
  if (num(*owned, "kernel_limit") == 0)
    GTEST_SKIP() << "memvisord cannot own a cgroup here: " << str(*owned, "msg");
  const std::string dir = str(*owned, "cgroup");
  ASSERT_TRUE(d.waitForKind("spawn", 20s)) << d.journalText();
  const std::string ctl = d.socket("ctl.sock");
  ASSERT_EQ(runCtl(ctl, "stop amayo").code, 0) << d.journalText();
  ASSERT_TRUE(d.waitForKind("exit", 20s)) << d.journalText();
  ASSERT_EQ(::rmdir(dir.c_str()), 0) << dir << ": " << std::strerror(errno);
  ASSERT_EQ(runCtl(ctl, "start amayo").code, 0) << d.journalText();
  auto again = d.waitForKind("spawn", 20s, 1);
  ASSERT_TRUE(again) << d.journalText();
  EXPECT_EQ(memoryCgroupOf(static_cast<pid_t>(num(*again, "pid"))), dir);
  EXPECT_EQ(std::atoll(slurp(dir + "/memory.limit_in_bytes").c_str()), 320ll << 20);
  EXPECT_TRUE(d.waitFor([](const json& e) {
    return str(e, "kind") == "cgroup" && str(e, "msg").find("created it again") != std::string::npos;
  }, 1s)) << d.journalText();
  EXPECT_EQ(d.stop(), 0) << d.journalText();
}

}  // namespace
}  // namespace memvisor::testing
