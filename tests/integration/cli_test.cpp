// memvisord as a user meets it: --check-config and its exit codes, the start-up self-check,
// SIGHUP reload refusing a bad file while the old config keeps running, and a stranger
// refused on the bot socket without disturbing the daemon.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <cstdio>

#include "daemon_harness.hpp"

namespace memvisor::testing {
namespace {

const std::string kBot = MEMVISOR_BOT_BIN;
const std::string kDaemon = MEMVISORD_BIN;

struct CliRun {
  int code = -1;
  std::string output;  // stdout + stderr
};

CliRun run(const std::string& args) {
  CliRun r;
  FILE* p = ::popen((kDaemon + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string simpleBot(const std::string& name, const char* limit = "256MiB") {
  return "  - name: " + name + "\n    limit: " + limit + "\n    spawn:\n      command: [" + kBot +
         ", --rate, \"50\", --progress-interval, \"0\"]\n";
}

TEST(Cli, ExplainsAValidConfigAndExitsZero) {
  Daemon d("check-ok");
  const auto cfg = d.writeConfig(simpleBot("amayo"));
  const CliRun r = run("--check-config " + cfg.string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("bot amayo:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(": OK"), std::string::npos) << r.output;
}

TEST(Cli, NamesFileLineAndKeyAndExitsThreeWhenTheConfigIsInvalid) {
  Daemon d("check-bad");
  const auto cfg = d.writeConfig("  - name: amayo\n    limit: 300\n    spawn: {command: [x]}\n");
  const CliRun r = run("--check-config " + cfg.string());
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find(cfg.string() + ":6:12: bots[0].limit"), std::string::npos) << r.output;
  // Start-up refuses the same file through the same path.
  const CliRun s = run("--config " + cfg.string());
  EXPECT_EQ(s.code, 3) << s.output;
}

TEST(Cli, AcceptsEveryConfigShippedInDeploy) {
  std::vector<fs::path> files;
  for (const auto& dir :
       {fs::path(MEMVISOR_DEPLOY_DIR), fs::path(MEMVISOR_DEPLOY_DIR) / "examples",
        fs::path(MEMVISOR_DEPLOY_DIR) / "compose"}) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".yaml" && e.path().filename() != "kubernetes-sidecar.yaml") {
        files.push_back(e.path());
      }
    }
  }
  ASSERT_GE(files.size(), 9u);
  for (const auto& f : files) {
    const CliRun r = run("--check-config " + f.string());
    EXPECT_EQ(r.code, 0) << f << "\n" << r.output;
  }
}

TEST(Cli, ExitsTwoOnUsageErrors) {
  EXPECT_EQ(run("").code, 2);
  EXPECT_EQ(run("--no-such-flag").code, 2);
  EXPECT_EQ(run("--config a.yaml --log-format yaml").code, 2);
}

TEST(Cli, ExitsFourWhenTheSelfCheckFails) {
  Daemon d("selfcheck");
  d.writeConfig(
      "  - name: amayo\n    limit: 256MiB\n    spawn: {command: [/nonexistent/memvisor-bot]}\n");
  const CliRun r = run("--config " + (d.dir / "memvisord.yaml").string());
  EXPECT_EQ(r.code, 4) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/memvisor-bot not found"), std::string::npos) << r.output;
}

TEST(Reload, RefusesABadFileAndKeepsTheRunningConfigThenAppliesAGoodOne) {
  Daemon d("reload");
  d.writeConfig(simpleBot("amayo"));
  d.start();
  ASSERT_TRUE(d.waitForKind("session", 20s)) << d.journalText();
  const pid_t bot = static_cast<pid_t>(num(*d.waitForKind("spawn", 1s), "pid"));

  d.writeConfig("  - name: amayo\n    limit: 300\n    spawn: {command: [x]}\n");
  ASSERT_EQ(::kill(d.pid, SIGHUP), 0);
  auto refused = d.waitFor(
      [](const json& e) { return str(e, "kind") == "config" && str(e, "level") == "error"; }, 10s);
  ASSERT_TRUE(refused) << d.journalText();
  EXPECT_NE(str(*refused, "msg").find("reload refused"), std::string::npos);
  EXPECT_NE(str(*refused, "error1").find("bots[0].limit"), std::string::npos) << refused->dump();
  EXPECT_EQ(::kill(bot, 0), 0) << "the bot must keep running";

  d.writeConfig(simpleBot("amayo", "128MiB"));
  ASSERT_EQ(::kill(d.pid, SIGHUP), 0);
  ASSERT_TRUE(d.waitFor(
      [](const json& e) {
        return str(e, "kind") == "config" &&
               str(e, "msg").find("256 MiB -> 128 MiB") != std::string::npos;
      },
      10s))
      << d.journalText();
  EXPECT_TRUE(d.entries("exit").empty()) << "a limit change needs no restart";
  EXPECT_EQ(d.stop(), 0);
}

TEST(BotSocket, RefusesAProcessThatIsNotASupervisedBotAndKeepsServing) {
  Daemon d("stranger");
  d.writeConfig(simpleBot("amayo"));
  d.start();
  ASSERT_TRUE(d.waitForKind("session", 20s)) << d.journalText();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = d.socket("bot.sock");
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string hello =
      R"({"type":"hello","version":{"major":1,"minor":0},"role":"bot","pid":1,"name":"amayo","capabilities":[]})"
      "\n";
  ASSERT_EQ(::write(fd, hello.data(), hello.size()), static_cast<ssize_t>(hello.size()));
  std::string reply;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) reply.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  EXPECT_NE(reply.find("not_permitted"), std::string::npos) << reply;
  // Garbage from a stranger closes that connection only.
  const int fd2 = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(fd2, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_GT(::write(fd2, "\x01\x02 not json\n", 12), 0);
  reply.clear();
  while ((n = ::read(fd2, buf, sizeof buf)) > 0) reply.append(buf, static_cast<std::size_t>(n));
  ::close(fd2);
  EXPECT_NE(reply.find("bad_json"), std::string::npos) << reply;
  EXPECT_FALSE(d.exited());
  EXPECT_EQ(d.entries("exit").size(), 0u);
  EXPECT_EQ(d.stop(), 0);
}

TEST(Control, AnswersBusyWhileAnotherActionIsOutstandingOnTheBot) {
  Daemon d("busy");
  // A bot that hangs at its first message (a liveness ping or a command): whichever of the
  // operator's two actions reaches the daemon first stays outstanding until its deadline,
  // and the other one must be refused at once as busy, naming the first. Both are started
  // together and either order is valid: waiting for one to be "out" first would race.
  d.writeConfig(
      "  - name: stuck\n    limit: 1GiB\n    deadlines: {trim: 2s, sweep: 2s, shutdown: 300ms}\n   "
      " stop_timeout: 300ms\n"
      "    spawn:\n      command: [" +
      kBot + ", --hang, --rate, \"50\", --progress-interval, \"0\"]\n");
  d.start();
  ASSERT_TRUE(d.waitForKind("session", 20s)) << d.journalText();
  const std::string ctl = std::string(MEMVISORCTL_BIN) + " --socket " + d.socket("ctl.sock");
  FILE* trim = ::popen((ctl + " trim stuck 2>&1").c_str(), "r");
  FILE* sweep = ::popen((ctl + " sweep stuck 2>&1").c_str(), "r");
  ASSERT_NE(trim, nullptr);
  ASSERT_NE(sweep, nullptr);
  auto finish = [](FILE* p) {
    CliRun r;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    const int st = ::pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
  };
  const CliRun t = finish(trim);
  const CliRun s = finish(sweep);
  EXPECT_NE(t.code, 0) << t.output;
  EXPECT_NE(s.code, 0) << s.output;
  const bool trim_refused = t.output.find("sweep is already running") != std::string::npos;
  const bool sweep_refused = s.output.find("trim is already running") != std::string::npos;
  EXPECT_TRUE(trim_refused != sweep_refused)
      << "exactly one of the two must be refused as busy\ntrim: " << t.output
      << "\nsweep: " << s.output << d.journalText();
  // The one that went out timed out on the hung bot, not refused.
  const CliRun& out = trim_refused ? s : t;
  EXPECT_NE(out.output.find("timeout"), std::string::npos) << out.output;
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace memvisor::testing
