// memvisor-bot as a real process, with the test acting as memvisord on a real Unix socket.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "fake_memvisord.hpp"
#include "memvisor/client/memory.hpp"

namespace memvisor {
namespace {

using std::chrono::milliseconds;
using testing::FakeMemvisord;
using testing::TempDir;

constexpr std::int64_t kMiB = 1 << 20;

// A child running memvisor-bot; stderr goes to a file for the assertions and diagnostics.
class BotProcess {
 public:
  BotProcess(const std::string& dir, std::vector<std::string> args, std::vector<std::string> env)
      : log_path_(dir + "/bot.log") {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(MEMVISOR_BOT_PATH));
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(MEMVISOR_BOT_PATH, argv.data());
      ::_exit(127);
    }
  }
  ~BotProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Exit status, or nullopt if still running after `timeout`.
  std::optional<int> wait(milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    return std::nullopt;
  }
  std::int64_t rss() const {
    auto r = client::readRssBytes("/proc", std::to_string(pid_));
    return r ? *r : 0;
  }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

proto::ActionRequest request(std::uint64_t id, proto::Action a, proto::Urgency u) {
  proto::ActionRequest r;
  r.id = id;
  r.action = a;
  r.urgency = u;
  r.deadline_ms = 30000;
  return r;
}

TEST(BotProcess, ExitsWith2NamingTheVariableWhenEnvIsBad) {
  TempDir dir;
  BotProcess bot(dir.path(), {"--duration", "5"}, {"CACHE_MESSAGES_LIMIT=lots", "SWEEP_MESSAGES_INTERVAL_SECONDS=-3"});
  EXPECT_EQ(bot.wait(milliseconds(5000)), 2);
  const auto log = bot.log();
  EXPECT_NE(log.find("CACHE_MESSAGES_LIMIT: expected an integer 0..100000, got 'lots'"), std::string::npos) << log;
  EXPECT_NE(log.find("SWEEP_MESSAGES_INTERVAL_SECONDS: expected an integer 1..86400, got '-3'"), std::string::npos) << log;
}

TEST(BotProcess, ExitsWith2OnBadFlagValue) {
  TempDir dir;
  BotProcess bot(dir.path(), {"--leak", "lots"}, {});
  EXPECT_EQ(bot.wait(milliseconds(5000)), 2);
  EXPECT_NE(bot.log().find("--leak"), std::string::npos) << bot.log();
}

TEST(BotProcess, RunsStandaloneWhenMemvisordIsAbsent) {
  TempDir dir;
  BotProcess bot(dir.path(), {"--duration", "1", "--rate", "2000", "--progress-interval", "0.3"},
                 {"MEMVISOR_SOCKET=" + dir.path() + "/absent.sock"});
  EXPECT_EQ(bot.wait(milliseconds(10000)), 0) << bot.log();
  const auto log = bot.log();
  EXPECT_NE(log.find("event=progress"), std::string::npos) << log;
  EXPECT_NE(log.find("event=memvisor_connect_failed"), std::string::npos) << log;
}

// The integration scenario: a bloated bot past 300 MiB, sweep then compact from the
// daemon's side, RSS measured from /proc drops by at least what the bot reported.
//
// Measurement semantics: the bot reports RSS (its /proc/self/statm) right before and right
// after each action. Between our reading and its own, the bot may process one tick of
// events (at most 20 ms worth: 400 events of <= ~20 KiB here, < 8 MiB), before the sweep,
// between the two actions and after the compact: hence kTolerance.
TEST(BotProcess, BloatedBotGivesMemoryBackOnSweepAndCompactAndKeepsRunning) {
  TempDir dir;
  FakeMemvisord server(dir.path() + "/bot.sock");
  BotProcess bot(dir.path(), {"--bloat", "--rate", "20000", "--body-min", "8KiB", "--body-max", "16KiB",
                              "--progress-interval", "0", "--name", "bloaty"},
                 {"MEMVISOR_SOCKET=" + server.path(), "SWEEP_MESSAGES_LIFETIME_SECONDS=2"});
  auto hello = server.handshake(milliseconds(10000), 200);
  ASSERT_TRUE(hello) << server.lastError() << "\n" << bot.log();
  EXPECT_EQ(hello->name, "bloaty");
  EXPECT_EQ(hello->pid, bot.pid());

  const auto grow_end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::int64_t first_messages = -1;
  while (bot.rss() < 300 * kMiB) {
    ASSERT_LT(std::chrono::steady_clock::now(), grow_end) << "RSS stuck at " << bot.rss() / kMiB << " MiB";
    if (auto s = server.recvType<proto::Stats>(milliseconds(300)); s && first_messages < 0) {
      first_messages = s->caches["messages"];
    }
  }
  const std::int64_t t0 = bot.rss();
  ASSERT_TRUE(server.send(request(1, proto::Action::kSweep, proto::Urgency::kHigh)));
  auto sweep = server.recvType<proto::ActionResult>(milliseconds(30000));
  ASSERT_TRUE(sweep) << server.lastError();
  ASSERT_TRUE(server.send(request(2, proto::Action::kCompact, proto::Urgency::kCritical)));
  auto compact = server.recvType<proto::ActionResult>(milliseconds(30000));
  ASSERT_TRUE(compact) << server.lastError();
  const std::int64_t t1 = bot.rss();

  EXPECT_TRUE(sweep->ok);
  EXPECT_TRUE(compact->ok);
  ASSERT_FALSE(sweep->details.empty());
  EXPECT_EQ(sweep->details[0].name, "messages");
  EXPECT_LT(sweep->details[0].entries_after.value_or(-1), sweep->details[0].entries_before.value_or(-1));
  EXPECT_GT(sweep->freed_bytes, 0);
  for (const auto& d : compact->details) {
    if (d.entries_after) {
      EXPECT_EQ(*d.entries_after, 0) << d.name;
    }
  }
  const std::int64_t reported = sweep->freed_bytes + compact->freed_bytes;
  std::printf("measured: t0=%lld MiB t1=%lld MiB sweep_freed=%lld MiB (%.1f ms) compact_freed=%lld MiB (%.1f ms)\n",
              static_cast<long long>(t0 / kMiB), static_cast<long long>(t1 / kMiB),
              static_cast<long long>(sweep->freed_bytes / kMiB), sweep->duration_ms,
              static_cast<long long>(compact->freed_bytes / kMiB), compact->duration_ms);
  constexpr std::int64_t kTolerance = 32 * kMiB;
  EXPECT_GE(t0 - t1, reported - kTolerance) << "t0=" << t0 / kMiB << "MiB t1=" << t1 / kMiB
                                            << "MiB reported=" << reported / kMiB << "MiB";
  EXPECT_GT(reported, 200 * kMiB);  // most of the bloat really went back to the OS
  EXPECT_LT(t1, t0 / 2);

  // Still processing events: the message cache refills between two stats.
  auto s1 = server.recvType<proto::Stats>(milliseconds(5000));
  ASSERT_TRUE(s1);
  auto s2 = server.recvType<proto::Stats>(milliseconds(5000));
  ASSERT_TRUE(s2);
  EXPECT_GT(s2->caches["messages"], s1->caches["messages"]);
  EXPECT_GE(first_messages, 0);

  proto::Shutdown sd;
  sd.id = 3;
  sd.reason = "test over";
  ASSERT_TRUE(server.send(sd));
  auto ack = server.recvType<proto::Ack>(milliseconds(5000));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->id, 3u);
  EXPECT_EQ(bot.wait(milliseconds(5000)), 0) << bot.log();
}

TEST(BotProcess, IgnoreCommandsAnswersPingsButNotActions) {
  TempDir dir;
  FakeMemvisord server(dir.path() + "/bot.sock");
  BotProcess bot(dir.path(), {"--ignore-commands", "--progress-interval", "0"}, {"MEMVISOR_SOCKET=" + server.path()});
  ASSERT_TRUE(server.handshake(milliseconds(10000), 60000)) << bot.log();
  ASSERT_TRUE(server.send(request(1, proto::Action::kTrim, proto::Urgency::kLow)));
  EXPECT_FALSE(server.recvType<proto::ActionResult>(milliseconds(700)));
  ASSERT_TRUE(server.send(proto::Ping{2}));
  auto pong = server.recvType<proto::Pong>(milliseconds(3000));
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->id, 2u);
  ::kill(bot.pid(), SIGTERM);
  EXPECT_EQ(bot.wait(milliseconds(5000)), 0);
}

TEST(BotProcess, HangStopsAnsweringAndIgnoresSigterm) {
  TempDir dir;
  FakeMemvisord server(dir.path() + "/bot.sock");
  BotProcess bot(dir.path(), {"--hang", "--progress-interval", "0"}, {"MEMVISOR_SOCKET=" + server.path()});
  ASSERT_TRUE(server.handshake(milliseconds(10000), 100)) << bot.log();
  ASSERT_TRUE(server.recvType<proto::Stats>(milliseconds(3000)));
  ASSERT_TRUE(server.send(proto::Ping{1}));
  EXPECT_FALSE(server.recvType<proto::Pong>(milliseconds(700)));
  EXPECT_FALSE(server.recvType<proto::Stats>(milliseconds(500)));  // the loop is blocked
  ::kill(bot.pid(), SIGTERM);
  EXPECT_FALSE(bot.wait(milliseconds(300)));
  ::kill(bot.pid(), SIGKILL);
  EXPECT_EQ(bot.wait(milliseconds(5000)), 128 + SIGKILL);
}

}  // namespace
}  // namespace memvisor
