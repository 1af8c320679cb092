// memvisord and its bot inside a v1 memory cgroup the test creates with a kernel limit:
// detection is event-driven for real (threshold eventfds on memory.usage_in_bytes), and the
// bot is kept under memvisor's limit without the kernel ever OOM-killing it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "daemon_harness.hpp"

namespace memvisor::testing {
namespace {

const std::string kBot = MEMVISOR_BOT_BIN;

// <v1 memory mount><our cgroup>, or empty when this machine has no v1 memory controller.
std::string ownMemoryCgroup() {
  std::istringstream in(slurp("/proc/self/cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    const auto a = line.find(':');
    const auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    if (("," + controllers + ",").find(",memory,") == std::string::npos) continue;
    const std::string dir = "/sys/fs/cgroup/memory" + line.substr(b + 1);
    if (fs::exists(dir + "/memory.limit_in_bytes")) return dir;
  }
  return "";
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

}  // namespace
}  // namespace memvisor::testing
