// BotProcess over real child processes on a real io_context: restart with backoff, FATAL on a
// crash loop, and the graceful stop sequence (recorded by a fake Signaller, then for real).
#include "memvisor/daemon/bot_process.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <csignal>
#include <fstream>
#include <sstream>

#include "fake_signaller.hpp"

#include "run_until.hpp"  // tests/support

namespace memvisor::daemon {
namespace {

using std::chrono::milliseconds;
using testing::RecordingSignaller;

using memvisor::testing::runUntil;

bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string stat = ss.str();
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

ProcessOptions options(std::vector<std::string> argv) {
  ProcessOptions o;
  o.name = "test";
  o.spawn.argv = std::move(argv);
  o.spawn.env = mergeEnvironment({});
  o.restart.initial_backoff = milliseconds(20);
  o.restart.max_backoff = milliseconds(100);
  o.restart.crash_loop_limit = 3;
  o.restart.stable_after = milliseconds(2000);
  o.shutdown_deadline = milliseconds(100);
  o.stop_timeout = milliseconds(100);
  return o;
}

struct Recorder {
  std::vector<std::string> states;
  std::vector<pid_t> started;
  std::vector<ExitInfo> exits;
  std::vector<std::string> shutdowns;
  bool answer_shutdown = false;
  BotProcess::Hooks hooks() {
    BotProcess::Hooks h;
    h.on_state = [this](ProcessState, ProcessState to, const std::string&) {
      states.push_back(toString(to));
    };
    h.on_started = [this](pid_t pid, bool) { started.push_back(pid); };
    h.on_exit = [this](pid_t, const ExitInfo& e, milliseconds, bool) { exits.push_back(e); };
    h.request_shutdown = [this](milliseconds, const std::string& reason) {
      shutdowns.push_back(reason);
      return answer_shutdown;
    };
    return h;
  }
};

TEST(BotProcess, RestartsWithBackoffWhenTheBotIsKilledFromOutside) {
  boost::asio::io_context io;
  ChildReaper reaper;
  PidfdSignaller signaller;
  Recorder rec;
  BotProcess bot(io, reaper, signaller, options({"sleep", "30"}), rec.hooks());
  bot.start("test");
  ASSERT_EQ(rec.started.size(), 1u);
  const pid_t first = rec.started[0];
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(runUntil(io, [&] { return rec.started.size() == 2; }));
  EXPECT_NE(rec.started[1], first);
  ASSERT_EQ(rec.exits.size(), 1u);
  EXPECT_TRUE(rec.exits[0].signaled);
  EXPECT_EQ(rec.exits[0].code, SIGKILL);
  EXPECT_EQ(bot.restarts(), 1);
  const std::vector<std::string> expected = {"STARTING", "BACKOFF", "STARTING"};
  EXPECT_EQ(rec.states, expected);
  bool stopped = false;
  bot.stop("end", [&] { stopped = true; });
  ASSERT_TRUE(runUntil(io, [&] { return stopped; }));
  EXPECT_FALSE(alive(rec.started[1]));
}

TEST(BotProcess, GoesFatalWhenTheBotCrashLoops) {
  boost::asio::io_context io;
  ChildReaper reaper;
  PidfdSignaller signaller;
  Recorder rec;
  BotProcess bot(io, reaper, signaller, options({"sh", "-c", "exit 1"}), rec.hooks());
  bot.start("test");
  ASSERT_TRUE(runUntil(io, [&] { return bot.state() == ProcessState::kFatal; }));
  // crash_loop_limit 3: the 4th quick exit gives up.
  EXPECT_EQ(rec.exits.size(), 4u);
  EXPECT_FALSE(bot.running());
}

TEST(BotProcess, BecomesRunningAfterStartSecondsWhenTheBotStaysUp) {
  boost::asio::io_context io;
  ChildReaper reaper;
  PidfdSignaller signaller;
  Recorder rec;
  auto o = options({"sleep", "30"});
  o.restart.stable_after = milliseconds(50);
  BotProcess bot(io, reaper, signaller, o, rec.hooks());
  bot.start("test");
  ASSERT_TRUE(runUntil(io, [&] { return bot.state() == ProcessState::kRunning; }));
  bool stopped = false;
  bot.stop("end", [&] { stopped = true; });
  ASSERT_TRUE(runUntil(io, [&] { return stopped; }));
}

TEST(BotProcess, AsksThenSignalsThenKillsTheGroupWhenTheBotDoesNotStop) {
  boost::asio::io_context io;
  ChildReaper reaper;
  RecordingSignaller signaller;  // records only: the process does not die by itself
  Recorder rec;
  rec.answer_shutdown = true;
  BotProcess bot(io, reaper, signaller, options({"sleep", "30"}), rec.hooks());
  bot.start("test");
  const pid_t pid = bot.pid();
  bot.stop("memory");
  ASSERT_TRUE(runUntil(io, [&] { return signaller.calls.size() >= 2; }));
  ASSERT_EQ(rec.shutdowns.size(), 1u);
  EXPECT_EQ(rec.shutdowns[0], "memory");
  EXPECT_EQ(signaller.calls[0].sig, SIGTERM);
  EXPECT_EQ(signaller.calls[1].sig, SIGKILL);
  for (const auto& c : signaller.calls) {
    EXPECT_EQ(c.pid, pid);
    EXPECT_TRUE(c.group);
  }
  EXPECT_EQ(bot.state(), ProcessState::kStopping);
  ::kill(pid, SIGKILL);  // what the real SIGKILL would have done
  ASSERT_TRUE(runUntil(io, [&] { return bot.state() == ProcessState::kStopped; }));
}

TEST(BotProcess, SignalsWithoutAskingWhenTheRestartMustNotWaitForTheBot) {
  boost::asio::io_context io;
  ChildReaper reaper;
  PidfdSignaller signaller;
  Recorder rec;
  rec.answer_shutdown = true;  // the bot would accept `shutdown`, but is not asked
  auto o = options({"sleep", "30"});
  o.shutdown_deadline = milliseconds(60000);  // a cooperative stop would hang this test
  BotProcess bot(io, reaper, signaller, o, rec.hooks());
  bot.start("test");
  const pid_t first = bot.pid();
  ASSERT_TRUE(bot.restart("hard ceiling", {}, BotProcess::StopMode::kSignal).ok());
  ASSERT_TRUE(runUntil(io, [&] { return rec.started.size() == 2; }));
  EXPECT_TRUE(rec.shutdowns.empty());
  ASSERT_EQ(rec.exits.size(), 1u);
  EXPECT_TRUE(rec.exits[0].signaled);
  EXPECT_EQ(rec.exits[0].code, SIGTERM);
  EXPECT_NE(bot.pid(), first);
  bool stopped = false;
  bot.stop("end", [&] { stopped = true; }, BotProcess::StopMode::kSignal);
  ASSERT_TRUE(runUntil(io, [&] { return stopped; }));
}

TEST(BotProcess, SendsNoSignalWhenTheBotObeysShutdown) {
  boost::asio::io_context io;
  ChildReaper reaper;
  RecordingSignaller signaller;
  Recorder rec;
  rec.answer_shutdown = true;
  auto o = options({"sleep", "30"});
  o.shutdown_deadline = milliseconds(5000);
  o.kill_group_leftovers = false;
  BotProcess bot(io, reaper, signaller, o, rec.hooks());
  bot.start("test");
  bot.stop("memory");
  ::kill(bot.pid(), SIGTERM);  // the bot exits on its own, as `shutdown` asked
  ASSERT_TRUE(runUntil(io, [&] { return bot.state() == ProcessState::kStopped; }));
  EXPECT_TRUE(signaller.calls.empty());
}

TEST(BotProcess, KillsTheWholeGroupWhenTheBotIgnoresTheStopSignal) {
  boost::asio::io_context io;
  ChildReaper reaper;
  PidfdSignaller signaller;
  Recorder rec;
  char tmpl[] = "/tmp/memvisor-group-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  // The shell and its sleeps ignore SIGTERM (ignored dispositions survive exec).
  auto o = options(
      {"sh", "-c", "trap '' TERM; sleep 30 & echo $! > worker; while :; do sleep 0.05; done"});
  o.spawn.cwd = dir;
  BotProcess bot(io, reaper, signaller, o, rec.hooks());
  bot.start("test");
  pid_t worker = 0;
  for (int i = 0; i < 200 && worker == 0; ++i) {
    ::usleep(10000);
    std::ifstream in(dir + "/worker");
    in >> worker;
  }
  ASSERT_GT(worker, 0);
  ASSERT_TRUE(alive(worker));
  bool stopped = false;
  bot.stop("test", [&] { stopped = true; });
  ASSERT_TRUE(runUntil(io, [&] { return stopped; }));
  ASSERT_EQ(rec.exits.size(), 1u);
  EXPECT_TRUE(rec.exits[0].signaled);
  EXPECT_EQ(rec.exits[0].code, SIGKILL);
  // The background worker of the group is gone too.
  for (int i = 0; i < 200 && alive(worker); ++i) ::usleep(10000);
  EXPECT_FALSE(alive(worker));
  std::remove((dir + "/worker").c_str());
  ::rmdir(dir.c_str());
}

TEST(BotProcess, RestartsAtOnceWithoutCountingACrashWhenRestartIsDeliberate) {
  boost::asio::io_context io;
  ChildReaper reaper;
  PidfdSignaller signaller;
  Recorder rec;
  BotProcess bot(io, reaper, signaller, options({"sleep", "30"}), rec.hooks());
  bot.start("test");
  const pid_t first = bot.pid();
  ASSERT_TRUE(bot.restart("memory").ok());
  ASSERT_TRUE(runUntil(io, [&] { return rec.started.size() == 2; }));
  EXPECT_NE(bot.pid(), first);
  EXPECT_EQ(bot.restarts(), 1);
  const std::vector<std::string> expected = {"STARTING", "STOPPING", "STARTING"};
  EXPECT_EQ(rec.states, expected);
  bool stopped = false;
  bot.stop("end", [&] { stopped = true; });
  ASSERT_TRUE(runUntil(io, [&] { return stopped; }));
}

TEST(BotProcess, DoesNotRestartWhatItDidNotStartWhenAttached) {
  boost::asio::io_context io;
  ChildReaper reaper;
  PidfdSignaller signaller;
  Recorder rec;
  // Someone else's process (a grandchild of ours would still be ours: use fork directly).
  const pid_t other = ::fork();
  if (other == 0) {
    ::execlp("sleep", "sleep", "30", nullptr);
    ::_exit(127);
  }
  ProcessOptions o = options({});
  o.attach = true;
  o.spawn.argv.clear();
  BotProcess bot(io, reaper, signaller, o, rec.hooks());
  ASSERT_TRUE(bot.adopt(other, "connected").ok());
  EXPECT_EQ(bot.state(), ProcessState::kRunning);
  EXPECT_FALSE(bot.restart("memory").ok());
  ::kill(other, SIGKILL);
  int status = 0;
  ::waitpid(other, &status, 0);
  ASSERT_TRUE(runUntil(io, [&] { return bot.state() == ProcessState::kExited; }));
  EXPECT_EQ(rec.started.size(), 1u);
  EXPECT_FALSE(rec.exits.at(0).known);
}

}  // namespace
}  // namespace memvisor::daemon
