// Attach mode: memvisord supervises a bot it did not start (found by pidfile, or the process
// that connects as the configured uid), measures and acts on it, and never restarts it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_harness.hpp"

namespace memvisor::testing {
namespace {

const std::string kBot = MEMVISOR_BOT_BIN;

// A bot started by the test, not by memvisord.
class ForeignBot {
 public:
  ForeignBot(const std::string& socket, const std::string& name, const fs::path& log,
             const std::string& seed = "1") {
    pid = ::fork();
    if (pid == 0) {
      ::setenv("MEMVISOR_SOCKET", socket.c_str(), 1);
      ::setenv("MEMVISOR_BOT_NAME", name.c_str(), 1);
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execl(kBot.c_str(), kBot.c_str(), "--rate", "50", "--progress-interval", "0", "--seed",
              seed.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~ForeignBot() { kill(); }
  void kill() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    int st = 0;
    ::waitpid(pid, &st, 0);
    pid = -1;
  }
  pid_t pid = -1;
};

TEST(Attach, SupervisesTheBotThatConnectsAndNeverRestartsIt) {
  Daemon d("attach-connect");
  d.writeConfig(R"(  - name: guest
    limit: 256MiB
    poll: {min: 100ms, max: 1s}
    attach: {connect: true, uid: )" +
                std::to_string(::geteuid()) + R"(}
)");
  d.start();
  ASSERT_TRUE(d.waitForKind("start", 20s)) << d.journalText();
  ForeignBot bot(d.socket("bot.sock"), "guest", d.dir / "bot.log");
  auto attach = d.waitForKind("attach", 20s);
  ASSERT_TRUE(attach) << d.journalText();
  EXPECT_EQ(num(*attach, "pid"), bot.pid);
  ASSERT_TRUE(d.waitFor(
      [](const json& e) { return str(e, "kind") == "state" && str(e, "to") == "RUNNING"; }, 10s))
      << d.journalText();
  bot.kill();
  ASSERT_TRUE(d.waitFor(
      [](const json& e) { return str(e, "kind") == "state" && str(e, "to") == "EXITED"; }, 10s))
      << d.journalText();
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(d.entries("spawn").empty()) << "memvisord must not start what it did not start";
  ASSERT_EQ(d.stop(), 0) << d.journalText();
}

TEST(Attach, RefusesAConnectionUnderAnotherNameWhenAttachingByConnect) {
  Daemon d("attach-name");
  d.writeConfig(R"(  - name: guest
    limit: 256MiB
    attach: {connect: true}
)");
  d.start();
  ASSERT_TRUE(d.waitForKind("start", 20s)) << d.journalText();
  ForeignBot bot(d.socket("bot.sock"), "impostor", d.dir / "bot.log");
  ASSERT_TRUE(d.waitFor(
      [](const json& e) {
        return str(e, "kind") == "bot_socket" && str(e, "msg").find("refused") != std::string::npos;
      },
      20s))
      << d.journalText();
  EXPECT_TRUE(d.entries("attach").empty());
  bot.kill();
  ASSERT_EQ(d.stop(), 0);
}

TEST(Attach, FindsTheBotByPidfileAndLeavesItRunningOnShutdown) {
  Daemon d("attach-pidfile");
  ForeignBot bot(d.socket("bot.sock"), "pidbot", d.dir / "bot.log");
  std::ofstream(d.dir / "bot.pid") << bot.pid << "\n";
  d.writeConfig(R"(  - name: pidbot
    limit: 256MiB
    poll: {min: 100ms, max: 1s}
    attach: {pidfile: )" +
                (d.dir / "bot.pid").string() + R"(}
)");
  d.start();
  auto attach = d.waitForKind("attach", 20s);
  ASSERT_TRUE(attach) << d.journalText();
  EXPECT_EQ(num(*attach, "pid"), bot.pid);
  // The bot (reconnecting with backoff) gets its session once the socket exists.
  ASSERT_TRUE(d.waitForKind("session", 30s)) << d.journalText();
  ASSERT_EQ(d.stop(), 0) << d.journalText();
  EXPECT_EQ(::kill(bot.pid, 0), 0) << "an attached bot is left running when memvisord stops";
  EXPECT_TRUE(d.entries("signal").empty());
}

TEST(Attach, FindsTheBotByCommandLinePatternAndAdoptsItAgainAfterItsOwnManagerRestartsIt) {
  Daemon d("attach-cmdline");
  const std::string seed = std::to_string(10000 + ::getpid() % 50000);  // unique per test run
  auto bot = std::make_unique<ForeignBot>(d.socket("bot.sock"), "cmdbot", d.dir / "bot.log", seed);
  d.writeConfig(R"(  - name: cmdbot
    limit: 256MiB
    attach: {cmdline: "memvisor-bot .*--seed )" +
                seed + R"($"}
)");
  d.start();
  auto first = d.waitForKind("attach", 20s);
  ASSERT_TRUE(first) << d.journalText();
  EXPECT_EQ(num(*first, "pid"), bot->pid);
  // The bot's own manager restarts it: memvisord finds the new incarnation.
  bot.reset();
  auto again =
      std::make_unique<ForeignBot>(d.socket("bot.sock"), "cmdbot", d.dir / "bot.log", seed);
  auto second = d.waitForKind("attach", 20s, 1);
  ASSERT_TRUE(second) << d.journalText();
  EXPECT_EQ(num(*second, "pid"), again->pid);
  EXPECT_TRUE(d.entries("spawn").empty());
  ASSERT_EQ(d.stop(), 0);
}


// The sidecar restarted (Docker, the kubelet): a new memvisord re-adopts the running bot when
// it reconnects, without restarting it, and its counters carry on from daemon.state_file -
// in `status`, in the summary and in Prometheus.
TEST(Attach, ARestartedMemvisordReadoptsTheRunningBotAndKeepsItsCounters) {
  Daemon d("attach-readopt");
  const std::string state = (d.dir / "state.json").string();
  auto writeConfig = [&](int port) {
    std::ofstream(d.dir / "memvisord.yaml")
        << "daemon:\n  bot_socket: " << d.socket("bot.sock")
        << "\n  control_socket: " << d.socket("ctl.sock") << "\n  state_file: " << state
        << "\n  metrics_listen: 127.0.0.1:" << port << "\nbots:\n  - name: guest\n"
        << "    limit: 256MiB\n    poll: {min: 100ms, max: 1s}\n"
        << "    attach: {connect: true, uid: " << ::geteuid() << "}\n";
  };
  const std::string ctl = std::string(MEMVISORCTL_BIN) + " --socket " + d.socket("ctl.sock");
  auto run = [](const std::string& cmd) {
    std::string out;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    char buf[4096];
    while (p && std::fgets(buf, sizeof buf, p)) out += buf;
    if (p) ::pclose(p);
    return out;
  };
  writeConfig(freePort());
  d.start();
  ASSERT_TRUE(d.waitForKind("start", 20s)) << d.journalText();
  ForeignBot bot(d.socket("bot.sock"), "guest", d.dir / "bot.log");
  ASSERT_TRUE(d.waitFor(
      [](const json& e) { return str(e, "kind") == "state" && str(e, "to") == "RUNNING"; }, 20s))
      << d.journalText();
  for (const char* action : {"sweep", "compact", "sweep"}) {
    const std::string out = run(ctl + " " + action + " guest");
    ASSERT_EQ(out.find("ERROR"), std::string::npos) << out;
  }
  ASSERT_EQ(d.stop(SIGKILL), SIGKILL) << d.journalText();  // as `docker kill`: no summary
  ASSERT_EQ(::kill(bot.pid, 0), 0) << "the bot must outlive memvisord";

  const int port = freePort();
  writeConfig(port);
  d.start();
  auto restored = d.waitFor([](const json& e) { return str(e, "kind") == "counters"; }, 20s);
  ASSERT_TRUE(restored) << d.journalText();
  EXPECT_NE(str(*restored, "msg").find("3 actions"), std::string::npos) << restored->dump();
  // The bot's client reconnects (backoff) and is adopted again: same pid, not restarted.
  auto attach = d.waitForKind("attach", 30s);
  ASSERT_TRUE(attach) << d.journalText();
  EXPECT_EQ(num(*attach, "pid"), bot.pid);
  ASSERT_TRUE(d.waitFor(
      [](const json& e) { return str(e, "kind") == "state" && str(e, "to") == "RUNNING"; }, 20s))
      << d.journalText();
  const std::string status = run(ctl + " status guest --json");
  const json all = json::parse(status, nullptr, false);
  ASSERT_TRUE(!all.is_discarded() && all.contains("bots") && all["bots"].size() == 1) << status;
  const json st = all["bots"][0];
  EXPECT_EQ(st.value("pid", 0), bot.pid) << status;
  EXPECT_EQ(st.value("restarts", -1), 0) << status;
  const std::string metrics = httpGet(port, "/metrics");
  EXPECT_NE(metrics.find("memvisor_actions_total{action=\"sweep\",bot=\"guest\",result=\"ok\"} 2"),
            std::string::npos) << metrics;
  EXPECT_NE(metrics.find("memvisor_actions_total{action=\"compact\",bot=\"guest\",result=\"ok\"} 1"),
            std::string::npos) << metrics;
  // One more action is counted on top of the restored ones, and saved again.
  run(ctl + " trim guest");
  EXPECT_EQ(d.stop(), 0);
  const json saved = json::parse(slurp(state), nullptr, false);
  ASSERT_FALSE(saved.is_discarded()) << slurp(state);
  EXPECT_EQ(saved["bots"]["guest"]["actions_by"].value("sweep:ok", 0.0), 2.0) << saved.dump();
  EXPECT_EQ(saved["bots"]["guest"]["actions_by"].value("compact:ok", 0.0), 1.0) << saved.dump();
  EXPECT_EQ(saved["bots"]["guest"]["actions_by"].value("trim:ok", 0.0), 1.0) << saved.dump();
  EXPECT_EQ(::kill(bot.pid, 0), 0) << "attached bots are left running";
}

}  // namespace
}  // namespace memvisor::testing
