// Faults memvisord must survive, each with real processes: memvisord SIGKILLed while its bots
// run (a new one takes them over, spawned or attached, without a restart); a bot's pid reused
// by a stranger (never signalled, no error storm); a journal file on a full or read-only disk;
// a reload that removes a bot or changes its command; a crash loop ending in FATAL.
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "daemon_harness.hpp"

namespace memvisor::testing {
namespace {

const std::string kBot = MEMVISOR_BOT_BIN;
const std::string kCtl = MEMVISORCTL_BIN;

std::string botYaml(const std::string& name, const std::string& extra_args = "") {
  return "  - name: " + name +
         "\n    limit: 256MiB\n    poll: {min: 100ms, max: 1s}\n    stop_timeout: 3s\n"
         "    restart: {start_seconds: 1s}\n    spawn:\n      command: [" +
         kBot + ", --rate, \"50\", --progress-interval, \"0\"" + extra_args + "]\n";
}

struct CtlRun {
  int code = -1;
  std::string out;
};
CtlRun ctl(const Daemon& d, const std::string& args) {
  CtlRun r;
  const std::string cmd = kCtl + " --socket " + d.socket("ctl.sock") + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}
// The bot's entry in `memvisorctl status --json`; null when absent.
json statusOf(const Daemon& d, const std::string& bot) {
  auto r = ctl(d, "status --json");
  auto j = json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return nullptr;
  const json& list = j.is_array() ? j : (j.contains("bots") ? j["bots"] : json());
  for (const auto& b : list) {
    if (str(b, "name") == bot) return b;
  }
  return nullptr;
}

// State letter of /proc/PID/stat ('\0' when gone): a zombie still answers kill(pid, 0).
char procState(pid_t pid) {
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '\0' : stat[paren + 2];
}
bool alive(pid_t pid) {
  const char s = procState(pid);
  return s != '\0' && s != 'Z' && s != 'X';
}

// Bots orphaned by a SIGKILLed memvisord come to the test (not to PID 1), so it can reap
// and, at the end, kill what is left.
class Orphans {
 public:
  Orphans() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~Orphans() {
    for (pid_t p : pids) ::kill(-p, SIGKILL);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  std::vector<pid_t> pids;
};

// SIGKILL, then the journal so far moves aside: what follows is the next memvisord's.
void sigkill(Daemon& d) {
  ASSERT_EQ(::kill(d.pid, SIGKILL), 0);
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (!d.exited() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(d.exited());
  fs::rename(d.log, d.dir / "memvisord-killed.log");
}

bool connectedEntry(const json& e) {
  return str(e, "kind") == "session" && str(e, "msg").rfind("bot connected", 0) == 0;
}

TEST(Takeover, ASpawnedBotOutlivesASigkilledMemvisordAndTheNextOneTakesItOver) {
  Orphans orphans;
  Daemon d("takeover-spawn");
  d.writeConfig(botYaml("amayo"));
  d.start();
  ASSERT_TRUE(d.waitFor(connectedEntry, 30s)) << d.journalText();
  const pid_t bot = static_cast<pid_t>(num(*d.waitForKind("spawn", 1s), "pid"));
  orphans.pids.push_back(bot);
  ASSERT_NO_FATAL_FAILURE(sigkill(d));
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(alive(bot)) << "the bot must survive memvisord's death";

  d.start();  // same config, same sockets; the journal file starts afresh
  auto took = d.waitForKind("takeover", 20s);
  ASSERT_TRUE(took) << d.journalText();
  EXPECT_EQ(num(*took, "pid"), bot);
  // The bot's client reconnects to the new memvisord on its own.
  auto connected = d.waitFor(connectedEntry, 30s);
  ASSERT_TRUE(connected) << d.journalText();
  EXPECT_EQ(num(*connected, "peer_pid"), bot);
  EXPECT_TRUE(d.entries("spawn").empty()) << "no second copy: " << d.journalText();
  const json st = statusOf(d, "amayo");
  ASSERT_FALSE(st.is_null());
  EXPECT_EQ(st.value("pid", 0), bot);
  EXPECT_EQ(st.value("state", ""), "RUNNING");
  EXPECT_TRUE(st.value("connected", false));
  // It is memvisord's bot again: an operator restart replaces it with a new process.
  auto r = ctl(d, "restart amayo");
  EXPECT_EQ(r.code, 0) << r.out;
  auto spawned = d.waitForKind("spawn", 30s);
  ASSERT_TRUE(spawned) << d.journalText();
  EXPECT_NE(num(*spawned, "pid"), bot);
  orphans.pids.push_back(static_cast<pid_t>(num(*spawned, "pid")));
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(alive(bot)) << "the taken-over bot was stopped for the restart";
  EXPECT_EQ(d.stop(), 0) << d.journalText();
}

TEST(Takeover, DoesNotTakeOverAProcessThatOnlyReusesTheRecordedPid) {
  Daemon d("takeover-stale");
  d.writeConfig(botYaml("amayo"));
  // A record whose pid is alive (this test) but whose start time is not that process's.
  std::ofstream(d.dir / "amayo.pid") << ::getpid() << " 1\n";
  d.start();
  auto spawned = d.waitForKind("spawn", 30s);
  ASSERT_TRUE(spawned) << d.journalText();
  EXPECT_NE(num(*spawned, "pid"), ::getpid());
  EXPECT_TRUE(d.entries("takeover").empty()) << d.journalText();
  EXPECT_EQ(d.stop(), 0) << d.journalText();
}

// A bot started by the test, found by memvisord by its pidfile.
pid_t startForeignBot(const Daemon& d, const std::string& name, const std::string& tag) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("MEMVISOR_SOCKET", d.socket("bot.sock").c_str(), 1);
    ::setenv("MEMVISOR_BOT_NAME", name.c_str(), 1);
    const int out = ::open((d.dir / "bot.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execl(kBot.c_str(), kBot.c_str(), "--rate", "50", "--progress-interval", "0", "--seed",
            tag.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

TEST(Takeover, AnAttachedBotIsAdoptedAgainByTheNextMemvisordAndReconnects) {
  Daemon d("takeover-attach");
  const pid_t bot = startForeignBot(d, "guest", "7");
  std::ofstream(d.dir / "guest.pidfile") << bot << "\n";
  d.writeConfig("  - name: guest\n    limit: 256MiB\n    poll: {min: 100ms, max: 1s}\n"
                "    attach: {pidfile: " +
                (d.dir / "guest.pidfile").string() + "}\n");
  d.start();
  ASSERT_TRUE(d.waitFor(connectedEntry, 30s)) << d.journalText();
  ASSERT_NO_FATAL_FAILURE(sigkill(d));
  d.start();
  auto attach = d.waitForKind("attach", 20s);
  ASSERT_TRUE(attach) << d.journalText();
  EXPECT_EQ(num(*attach, "pid"), bot);
  auto connected = d.waitFor(connectedEntry, 30s);
  ASSERT_TRUE(connected) << d.journalText();
  EXPECT_EQ(num(*connected, "peer_pid"), bot);
  EXPECT_EQ(::waitpid(bot, nullptr, WNOHANG), 0) << "the bot never stopped";
  EXPECT_EQ(d.stop(), 0);
  EXPECT_EQ(::waitpid(bot, nullptr, WNOHANG), 0) << "an attached bot outlives memvisord";
  ::kill(bot, SIGKILL);
  ::waitpid(bot, nullptr, 0);
}

// The bot an earlier memvisord left is not where this one would put it (that one was another
// version, or ran with own_cgroup off): it is supervised in the group it is in, and no empty
// group of its name is left behind. Before, memvisord created that group, said the bot "keeps
// running" in it, and sampled it: an empty group's figures.
TEST(Takeover, ABotOutsideTheGroupThisMemvisordWouldGiveItIsSupervisedWhereItIs) {
  if (memoryCgroupOf(::getpid()).empty()) GTEST_SKIP() << "no cgroup v1 memory controller";
  Orphans orphans;
  Daemon d("takeover-elsewhere");
  const pid_t bot = startForeignBot(d, "elsewhere", "5");
  orphans.pids.push_back(bot);
  const std::string stat = slurp("/proc/" + std::to_string(bot) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) fields >> field;  // field 22: start time in ticks
  std::ofstream(d.dir / "elsewhere.pid") << bot << " " << field << "\n";
  d.writeConfig(botYaml("elsewhere"));
  d.start();
  auto elsewhere = d.waitFor([](const json& e) {
    return str(e, "kind") == "takeover" && str(e, "level") == "warn";
  }, 20s);
  ASSERT_TRUE(elsewhere) << d.journalText();
  EXPECT_EQ(str(*elsewhere, "cgroup"), memoryCgroupOf(bot));
  auto took = d.waitFor([](const json& e) {
    return str(e, "kind") == "takeover" && str(e, "level") == "info";
  }, 5s);
  ASSERT_TRUE(took) << d.journalText();
  EXPECT_EQ(num(*took, "pid"), bot);
  EXPECT_EQ(str(*took, "msg").find(" in /"), std::string::npos) << str(*took, "msg");
  ASSERT_TRUE(d.waitFor(connectedEntry, 30s)) << d.journalText();
  for (const auto& entry : fs::directory_iterator(memoryCgroupOf(::getpid()))) {
    EXPECT_NE(entry.path().filename().string().rfind("memvisor-elsewhere-", 0), 0u)
        << "an empty group left behind: " << entry.path();
  }
  // Its next start is memvisord's own: in a group of its own.
  ASSERT_EQ(ctl(d, "restart elsewhere").code, 0) << d.journalText();
  auto spawned = d.waitForKind("spawn", 30s);
  ASSERT_TRUE(spawned) << d.journalText();
  orphans.pids.push_back(static_cast<pid_t>(num(*spawned, "pid")));
  const std::string now_in = memoryCgroupOf(static_cast<pid_t>(num(*spawned, "pid")));
  if (now_in == memoryCgroupOf(::getpid())) {
    GTEST_SKIP() << "memvisord cannot own a cgroup here: " << d.journalText();
  }
  EXPECT_NE(now_in.find("/memvisor-elsewhere-"), std::string::npos) << now_in;
  EXPECT_EQ(d.stop(), 0) << d.journalText();
}

// clone3 with set_tid: a child with exactly `pid` (needs CAP_SYS_ADMIN or
// CAP_CHECKPOINT_RESTORE). It runs `sleep 60`. -errno on failure.
pid_t forkWithPid(pid_t pid) {
  clone_args args{};
  args.exit_signal = SIGCHLD;
  pid_t tid[1] = {pid};
  args.set_tid = reinterpret_cast<std::uint64_t>(tid);
  args.set_tid_size = 1;
  const long r = ::syscall(SYS_clone3, &args, sizeof args);
  if (r == 0) {
    ::execlp("sleep", "sleep", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return r < 0 ? -errno : static_cast<pid_t>(r);
}

TEST(PidReuse, AStrangerThatGetsTheBotsPidIsNeverSignalledNorSampledIntoAnErrorStorm) {
  Daemon d("pid-reuse");
  const pid_t bot = startForeignBot(d, "guest", "11");
  const std::string tag = "memvisor-pid-reuse-" + std::to_string(::getpid());
  std::ofstream(d.dir / "guest.pidfile") << bot << "\n";
  d.writeConfig("  - name: guest\n    limit: 256MiB\n    poll: {min: 50ms, max: 100ms}\n"
                "    attach: {pidfile: " +
                (d.dir / "guest.pidfile").string() + ", allow_shutdown: true}\n");
  d.start();
  ASSERT_TRUE(d.waitFor(connectedEntry, 30s)) << d.journalText();
  // The bot dies and is reaped at once by its parent (this test): its pid is free, and a
  // new process takes it while memvisord is sampling every 50-100 ms.
  ::kill(bot, SIGKILL);
  ::waitpid(bot, nullptr, 0);
  ::unlink((d.dir / "guest.pidfile").c_str());  // its manager removes the stale pidfile
  pid_t stranger = -1;
  for (int i = 0; i < 50 && stranger < 0; ++i) {
    stranger = forkWithPid(bot);
    if (stranger == -EPERM || stranger == -ENOSYS) break;
  }
  if (stranger < 0) {
    GTEST_SKIP() << "cannot create a process with pid " << bot
                 << " (clone3 set_tid): " << std::strerror(-stranger);
  }
  ASSERT_EQ(stranger, bot);
  auto exited = d.waitFor(
      [](const json& e) { return str(e, "kind") == "state" && str(e, "to") == "EXITED"; }, 10s);
  ASSERT_TRUE(exited) << d.journalText();
  // Ask for everything that would signal the bot: a restart and a stop.
  ctl(d, "restart guest");
  ctl(d, "stop guest");
  std::this_thread::sleep_for(1500ms);  // 15+ sampling periods
  EXPECT_EQ(::waitpid(stranger, nullptr, WNOHANG), 0) << "the stranger was killed";
  EXPECT_TRUE(alive(stranger));
  for (const auto& e : d.entries("attach")) EXPECT_EQ(e.count("pid") ? num(e, "pid") : bot, bot);
  EXPECT_EQ(d.entries("attach").size(), 1u) << "the stranger must not be adopted";
  for (const auto& e : d.entries("signal")) ADD_FAILURE() << "signal sent: " << e.dump();
  std::size_t problems = 0;
  for (const auto& e : d.entries()) {
    const std::string level = str(e, "level");
    if ((level == "warn" || level == "error") && num(e, "ts_ms") >= num(*exited, "ts_ms")) {
      ++problems;
    }
  }
  EXPECT_LE(problems, 3u) << "an error storm after the pid was reused:\n" << d.journalText();
  EXPECT_EQ(d.stop(), 0);
  ::kill(stranger, SIGKILL);
  ::waitpid(stranger, nullptr, 0);
}

std::size_t countOf(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// /dev/full fails every write with ENOSPC, exactly like a full disk.
TEST(JournalFile, OnAFullDiskIsReportedOnceAndSupervisionGoesOn) {
  Daemon d("journal-full");
  d.writeConfig(botYaml("amayo"));
  std::string cfg = slurp(d.dir / "memvisord.yaml");
  cfg.insert(cfg.find("bots:"), "  journal: {file: /dev/full}\n");
  std::ofstream(d.dir / "memvisord.yaml") << cfg;
  d.start();
  ASSERT_TRUE(d.waitFor(connectedEntry, 30s)) << d.journalText();
  ASSERT_EQ(ctl(d, "trim amayo").code, 0);
  ASSERT_TRUE(d.waitForKind("action", 10s)) << d.journalText();
  const std::string text = d.journalText();
  EXPECT_EQ(countOf(text, "cannot write the journal file"), 1u) << text;
  EXPECT_NE(text.find("No space left on device"), std::string::npos) << text;
  // Subscribers saw it too.
  auto ev = ctl(d, "events --since 1m");
  EXPECT_NE(ev.out.find("cannot write the journal file"), std::string::npos) << ev.out;
  EXPECT_EQ(d.stop(), 0) << text;
}

TEST(JournalFile, OnAReadOnlyFilesystemIsReportedOnceAndSupervisionGoesOn) {
  Daemon d("journal-ro");
  const fs::path mnt = d.dir / "ro";
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", MS_RDONLY, "size=64k") != 0) {
    GTEST_SKIP() << "cannot mount a read-only tmpfs: " << std::strerror(errno);
  }
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  d.writeConfig(botYaml("amayo"));
  std::string cfg = slurp(d.dir / "memvisord.yaml");
  cfg.insert(cfg.find("bots:"), "  journal: {file: " + (mnt / "journal.jsonl").string() + "}\n");
  std::ofstream(d.dir / "memvisord.yaml") << cfg;
  d.start();
  ASSERT_TRUE(d.waitFor(connectedEntry, 30s)) << d.journalText();
  ASSERT_EQ(ctl(d, "trim amayo").code, 0);
  ASSERT_TRUE(d.waitForKind("action", 10s)) << d.journalText();
  const std::string text = d.journalText();
  EXPECT_EQ(countOf(text, "cannot write the journal file"), 1u) << text;
  EXPECT_NE(text.find("Read-only file system"), std::string::npos) << text;
  EXPECT_EQ(d.stop(), 0) << text;
}

TEST(Reload, RemovingABotStopsItGracefullyAndAChangedCommandAppliesAtItsNextStart) {
  Daemon d("reload-bots");
  d.writeConfig(botYaml("amayo") + botYaml("tester"));
  d.start();
  ASSERT_TRUE(d.waitFor(connectedEntry, 30s, 1)) << d.journalText();
  pid_t amayo = 0, tester = 0;
  for (const auto& e : d.entries("spawn")) {
    (str(e, "bot") == "amayo" ? amayo : tester) = static_cast<pid_t>(num(e, "pid"));
  }
  ASSERT_GT(amayo, 0);
  ASSERT_GT(tester, 0);

  // tester removed; amayo's command gains an argument.
  d.writeConfig(botYaml("amayo", ", --seed, \"42\""));
  ASSERT_EQ(ctl(d, "reload").code, 0) << d.journalText();
  // Graceful: asked over the protocol, then it exits by itself (no SIGKILL).
  auto asked = d.waitFor(
      [](const json& e) { return str(e, "kind") == "shutdown" && str(e, "bot") == "tester"; }, 10s);
  ASSERT_TRUE(asked) << d.journalText();
  auto gone = d.waitFor(
      [](const json& e) { return str(e, "kind") == "exit" && str(e, "bot") == "tester"; }, 20s);
  ASSERT_TRUE(gone) << d.journalText();
  EXPECT_EQ(str(*gone, "expected"), "true");
  EXPECT_NE(str(*gone, "status"), "signal 9 (KILL)") << gone->dump();
  for (const auto& e : d.entries("signal")) {
    EXPECT_NE(num(e, "signal"), SIGKILL) << "tester was killed, not stopped: " << e.dump();
  }
  EXPECT_TRUE(statusOf(d, "tester").is_null());
  // amayo keeps its process until its next start, which runs the new command.
  const json before = statusOf(d, "amayo");
  EXPECT_EQ(before.value("pid", 0), amayo);
  ASSERT_EQ(ctl(d, "restart amayo").code, 0);
  auto respawn = d.waitFor(
      [&](const json& e) { return str(e, "kind") == "spawn" && num(e, "pid") != amayo &&
                                  str(e, "bot") == "amayo"; },
      30s);
  ASSERT_TRUE(respawn) << d.journalText();
  std::string cmdline = slurp("/proc/" + std::to_string(num(*respawn, "pid")) + "/cmdline");
  for (char& c : cmdline) c = c == '\0' ? ' ' : c;
  EXPECT_NE(cmdline.find("--seed 42"), std::string::npos) << cmdline;
  EXPECT_EQ(d.stop(), 0) << d.journalText();
}

TEST(CrashLoop, EndsInFatalVisibleInStatusJournalAndMetricsAndStartBringsItBack) {
  Daemon d("crash-loop");
  const int port = freePort();
  d.writeConfig(R"(  - name: crashy
    limit: 256MiB
    restart: {backoff_initial: 50ms, backoff_max: 200ms, start_seconds: 5s, start_retries: 3}
    spawn:
      command: [sh, -c, "exit 3"]
)");
  std::string cfg = slurp(d.dir / "memvisord.yaml");
  cfg.insert(cfg.find("bots:"), "  metrics_listen: 127.0.0.1:" + std::to_string(port) + "\n");
  std::ofstream(d.dir / "memvisord.yaml") << cfg;
  d.start();
  auto fatal = d.waitFor(
      [](const json& e) { return str(e, "kind") == "state" && str(e, "to") == "FATAL"; }, 30s);
  ASSERT_TRUE(fatal) << d.journalText();
  EXPECT_EQ(str(*fatal, "level"), "error");
  EXPECT_NE(str(*fatal, "msg").find("crash loop"), std::string::npos) << fatal->dump();
  const std::size_t spawns = d.entries("spawn").size();
  EXPECT_GE(spawns, 3u);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(d.entries("spawn").size(), spawns) << "FATAL means no more restarts";
  const json st = statusOf(d, "crashy");
  EXPECT_EQ(st.value("state", ""), "FATAL") << st.dump();
  auto r = ctl(d, "status crashy");
  EXPECT_NE(r.out.find("FATAL"), std::string::npos) << r.out;
  const std::string metrics = httpGet(port, "/metrics");
  EXPECT_NE(metrics.find("memvisor_bot_fatal{bot=\"crashy\"} 1"), std::string::npos) << metrics;

  ASSERT_EQ(ctl(d, "start crashy").code, 0);
  auto again = d.waitForKind("spawn", 10s, spawns);
  ASSERT_TRUE(again) << "start must bring a FATAL bot back:\n" << d.journalText();

  EXPECT_TRUE(d.waitFor(
      [](const json& e) { return str(e, "kind") == "state" && str(e, "to") == "FATAL"; }, 30s, 1))
      << "and the crash count starts afresh, ending in FATAL again";
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace memvisor::testing
