// memvisorctl against fake_memvisord (the real control endpoint, a scripted backend): every
// command, --json parsed and checked, exit codes, refusals of an unprivileged user, and a
// socket that does not exist.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace memvisor::control {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Background;
using testing::ProcResult;
using testing::TempDir;

const std::string kCtl = MEMVISORCTL_BIN;
const std::string kFake = FAKE_MEMVISORD_BIN;

class Ctl : public ::testing::Test {
 protected:
  void SetUp() override { startDaemon({}); }

  void startDaemon(std::vector<std::string> extra) {
    daemon_.reset();
    socket_ = dir_.file("ctl.sock");
    config_ = dir_.file("memvisor.yaml");
    std::ofstream(config_) << "bots: []\n";
    std::vector<std::string> argv = {kFake, "--socket", socket_, "--config", config_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    daemon_ = std::make_unique<Background>(argv);
    ASSERT_TRUE(daemon_->waitFor("ready", 10s)) << "fake_memvisord did not start";
  }

  ProcResult ctl(std::vector<std::string> args, std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {kCtl, "--socket", socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::runProcess(argv, env);
  }
  json ctlJson(std::vector<std::string> args, int expect_code = 0) {
    args.push_back("--json");
    auto r = ctl(args);
    EXPECT_EQ(r.code, expect_code) << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out;
    return j;
  }

  TempDir dir_;
  std::string socket_, config_;
  std::unique_ptr<Background> daemon_;
};

TEST_F(Ctl, StatusPrintsOneRowPerBot) {
  auto r = ctl({"status"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s :
       {"NAME",      "STATE",  "HEAP",   "LAG",      "USE",          "LAST ACTION",
        "RESTARTS",  "OOM",    "amayo",  "RUNNING",  "4242",         "212.0 MiB",
        "384.0 MiB", "55%",    "tester", "elevated", "(no session)", "sweep freed 5.0 MiB, 3m",
        "idle",      "STOPPED"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << "missing " << s << " in\n" << r.out;
  }
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "colour on a pipe";
  EXPECT_EQ(r.out.find("\u2588"), std::string::npos) << "bar on a pipe";
}

TEST_F(Ctl, StatusVerboseAndShowPrintEveryFigure) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status", "-v", "amayo"}, std::vector<std::string>{"show", "amayo"}}) {
    auto r = ctl(args);
    ASSERT_EQ(r.code, 0) << r.err;
    for (const char* s : {"amayo", "state:", "memory:", "measured:", "pss 205.0 MiB",
                          "restarts:"}) {
      EXPECT_NE(r.out.find(s), std::string::npos) << "missing " << s << " in\n" << r.out;
    }
  }
}

TEST_F(Ctl, StatusJsonCarriesEveryFigure) {
  json j = ctlJson({"status", "amayo", "tester"});
  ASSERT_EQ(j["bots"].size(), 2u);
  const json& a = j["bots"][0];
  EXPECT_EQ(a["name"], "amayo");
  EXPECT_EQ(a["state"], "RUNNING");
  EXPECT_EQ(a["pid"], 4242);
  EXPECT_EQ(a["limit_bytes"], 384 * 1024 * 1024);
  EXPECT_EQ(a["rss_bytes"], 212 * 1024 * 1024);
  EXPECT_EQ(a["pss_bytes"], 205 * 1024 * 1024);
  EXPECT_EQ(a["thresholds_bytes"].size(), 3u);
  EXPECT_EQ(j["bots"][1]["restarts"], 2);
  EXPECT_EQ(j["bots"][1]["oom_kills"], 1);
}

TEST_F(Ctl, StatusOfAnUnknownBotFailsWithExit1) {
  auto r = ctl({"status", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no bot named \"nope\""), std::string::npos) << r.err;
  json j = ctlJson({"status", "nope"}, 1);
  EXPECT_EQ(j["error"]["code"], "unknown_bot");
}

TEST_F(Ctl, ActionsPrintWhatWasFreedAndHowLong) {
  auto r = ctl({"trim", "amayo"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "amayo: trimmed 23.1 MiB in 4.2 ms\n");
  r = ctl({"sweep", "amayo"});
  EXPECT_EQ(r.out, "amayo: swept 12.3 MiB in 4.2 ms\n");
  r = ctl({"compact", "amayo"});
  EXPECT_EQ(r.out, "amayo: compacted 40.0 MiB in 4.2 ms\n");
}

TEST_F(Ctl, ActionOnAllReportsEachBotAndFailsWhenOneFails) {
  auto r = ctl({"sweep", "all"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("amayo: swept 12.3 MiB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tester: ERROR (not_connected: the bot has no session on the bot socket)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("idle: ERROR"), std::string::npos) << r.out;
  json j = ctlJson({"trim", "all"}, 1);
  EXPECT_EQ(j["ok"], false);
  ASSERT_EQ(j["results"].size(), 3u);
  EXPECT_EQ(j["results"][0]["bot"], "amayo");
  EXPECT_EQ(j["results"][0]["freed_bytes"], 24221696);
  EXPECT_DOUBLE_EQ(j["results"][0]["duration_ms"].get<double>(), 4.2);
  EXPECT_EQ(j["results"][1]["code"], "not_connected");
}

TEST_F(Ctl, ActionOnAnUnknownBotSaysSo) {
  auto r = ctl({"trim", "ghost"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "ghost: ERROR (unknown_bot: no bot named \"ghost\")\n");
}

TEST_F(Ctl, LifecycleCommandsChangeTheState) {
  auto r = ctl({"stop", "amayo"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "amayo: stopped\n");
  EXPECT_EQ(ctlJson({"status", "amayo"})["bots"][0]["state"], "STOPPED");
  r = ctl({"pid", "amayo"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("not running"), std::string::npos);
  r = ctl({"stop", "amayo"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "amayo: ERROR (action_failed: not running)\n");
  r = ctl({"start", "amayo"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "amayo: started\n");
  json j = ctlJson({"restart", "amayo"});
  EXPECT_EQ(j["command"], "restart");
  EXPECT_EQ(j["results"][0]["ok"], true);
  EXPECT_EQ(ctlJson({"status", "amayo"})["bots"][0]["restarts"], 1);
}

TEST_F(Ctl, PidPrintsThePid) {
  auto r = ctl({"pid", "amayo"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "4242\n");
  json j = ctlJson({"pid", "amayo"});
  EXPECT_EQ(j["pid"], 4242);
  r = ctl({"pid", "all"});
  EXPECT_EQ(r.code, 1);  // idle is stopped
  EXPECT_NE(r.out.find("amayo: 4242"), std::string::npos);
  EXPECT_NE(r.out.find("tester: 4343"), std::string::npos);
}

TEST_F(Ctl, LimitShowsAndChangesTheLimit) {
  auto r = ctl({"limit", "amayo"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "amayo: limit 384.0 MiB (from the config)\n");
  r = ctl({"limit", "amayo", "512MiB"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("limit set to 512.0 MiB"), std::string::npos);
  json j = ctlJson({"limit", "amayo"});
  EXPECT_EQ(j["limit_bytes"], 512 * 1024 * 1024);
  EXPECT_EQ(j["source"], "runtime");
  r = ctl({"status"});
  EXPECT_NE(r.out.find("512.0 MiB*"), std::string::npos) << r.out;
  r = ctl({"events", "amayo", "--since", "1m"});
  EXPECT_NE(r.out.find("limit changed at run time"), std::string::npos) << r.out;
}

TEST_F(Ctl, LimitRejectsASizeWithoutUnit) {
  auto r = ctl({"limit", "amayo", "300"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("bare number 300 is not a size: write 300MiB"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Usage: memvisorctl limit BOT [SIZE]"), std::string::npos) << r.err;
}

TEST_F(Ctl, ReloadRestoresTheFileLimit) {
  ASSERT_EQ(ctl({"limit", "amayo", "1G"}).code, 0);
  auto r = ctl({"reload"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("amayo: limit back to the file's value"), std::string::npos) << r.out;
  EXPECT_EQ(ctlJson({"limit", "amayo"})["source"], "config");
}

TEST_F(Ctl, ReloadOfABadFilePrintsTheExplanationAndExits1) {
  std::ofstream(config_) << "invalid\n";
  auto r = ctl({"reload"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the config was not reloaded; memvisord keeps running the old one"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("memvisor.yaml:3:12: bots[0].limit"), std::string::npos) << r.err;
  json j = ctlJson({"reload"}, 1);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["errors"].size(), 1u);
}

TEST_F(Ctl, EventsShowsTheJournalFilteredByBotAndAge) {
  auto r = ctl({"events"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("amayo spawn started pid=4242"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tester threshold rss crossed 70% of the limit"), std::string::npos)
      << r.out;
  r = ctl({"events", "tester", "--since", "5m"});
  EXPECT_EQ(r.out.find("rss crossed"), std::string::npos) << "10 minutes old: " << r.out;
  EXPECT_NE(r.out.find("sweep freed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("amayo"), std::string::npos) << r.out;
  r = ctl({"events", "--since", "5m", "--json"});
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    json j = json::parse(line);
    EXPECT_TRUE(j.contains("ts_ms"));
    EXPECT_TRUE(j.contains("kind"));
    ++n;
  }
  EXPECT_EQ(n, 1);
}

TEST_F(Ctl, EventsFollowShowsNewEntriesLive) {
  Background follow({kCtl, "--socket", socket_, "events", "amayo", "--follow", "--since", "1m"});
  // Even a follower that subscribes late sees the entry, through its one-minute backlog.
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(ctl({"sweep", "amayo"}).code, 0);
  EXPECT_TRUE(follow.waitFor("sweep freed 12897485 bytes", 10s)) << follow.output();
  EXPECT_NE(follow.output().find("reason=memvisorctl"), std::string::npos);
}

TEST_F(Ctl, UsageErrorsExit2WithTheCommandsUsage) {
  auto r = ctl({"trim"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("Error: trim requires a bot name (or all)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Usage: memvisorctl trim BOT|all"), std::string::npos) << r.err;
  EXPECT_EQ(ctl({"frobnicate"}).code, 2);
  EXPECT_EQ(ctl({"events", "--since", "soon"}).code, 2);
  EXPECT_EQ(ctl({"reload", "now"}).code, 2);
  EXPECT_EQ(ctl({"pid"}).code, 2);
  EXPECT_EQ(ctl({"status", "--timeout", "x"}).code, 2);
}

TEST_F(Ctl, HelpHasExamplesAndExitCodes) {
  auto r = testing::runProcess({kCtl, "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("Examples:"), std::string::npos);
  EXPECT_NE(r.out.find("4  not permitted"), std::string::npos);
  r = testing::runProcess({kCtl, "limit", "--help"});
  EXPECT_NE(r.out.find("memvisorctl limit amayo 512MiB"), std::string::npos) << r.out;
  r = testing::runProcess({kCtl, "--help-all"});
  for (const char* c : {"status", "trim", "sweep", "compact", "restart", "stop", "start", "pid",
                        "limit", "reload", "events", "top"}) {
    EXPECT_NE(r.out.find(std::string("\nmemvisorctl ") + c), std::string::npos) << c;
    EXPECT_NE(r.out.find(std::string("  memvisorctl ") + c), std::string::npos) << c;  // example
  }
  r = ctl({"help", "events"});
  EXPECT_NE(r.out.find("--follow"), std::string::npos) << r.out;
}

TEST_F(Ctl, ManPageIsGeneratedFromTheCommandTable) {
  auto r = testing::runProcess({kCtl, "--man"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind(".TH MEMVISORCTL 1", 0), 0u);
  for (const char* c : {"status", "trim", "sweep", "compact", "restart", "stop", "start", "pid",
                        "limit", "reload", "events", "top"}) {
    EXPECT_NE(r.out.find(std::string(".B ") + c), std::string::npos) << c;
  }
  EXPECT_NE(r.out.find(".SH EXIT STATUS"), std::string::npos);
  if (testing::runProcess({"groff", "-v"}).code != 0) GTEST_SKIP() << "groff not installed";
  auto g = testing::runProcess({"groff", "-man", "-ww", "-z"}, {}, r.out);
  EXPECT_EQ(g.code, 0);
  EXPECT_EQ(g.err, "") << "groff warnings";
}

TEST_F(Ctl, MissingSocketExits3InWords) {
  auto r = testing::runProcess({kCtl, "--socket", dir_.file("absent.sock"), "status"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err,
            "Error: " + dir_.file("absent.sock") + " does not exist (is memvisord running?)\n");
  r = testing::runProcess({kCtl, "--socket", dir_.file("absent.sock"), "status", "--json"});
  EXPECT_EQ(json::parse(r.out)["error"]["code"], "cannot_connect");
}

TEST_F(Ctl, SocketComesFromTheEnvironmentWhenNotGiven) {
  auto r = testing::runProcess({kCtl, "pid", "amayo"}, {"MEMVISOR_CONTROL_SOCKET=" + socket_});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "4242\n");
  r = testing::runProcess({kCtl, "--socket", socket_, "pid", "amayo"},
                          {"MEMVISOR_CONTROL_SOCKET=" + dir_.file("other.sock")});
  EXPECT_EQ(r.out, "4242\n");  // --socket wins
}

TEST_F(Ctl, LeftoverSocketFileExits3) {
  daemon_->stop(SIGKILL);  // no cleanup: the socket file stays
  auto r = ctl({"status"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("connection refused"), std::string::npos) << r.err;
}

ProcResult asNobody(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  return testing::runProcess(argv);
}

TEST_F(Ctl, RefusesAnUnprivilegedUserByPeerCredentials) {
  startDaemon({"--mode", "0666"});
  auto r = asNobody({kCtl, "--socket", socket_, "status"});
  EXPECT_EQ(r.code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("uid 65534 (gid 65534) is not permitted to use the control socket"),
            std::string::npos)
      << r.err;
  r = asNobody({kCtl, "--socket", socket_, "trim", "amayo", "--json"});
  EXPECT_EQ(r.code, 4);
  EXPECT_EQ(json::parse(r.out)["error"]["code"], "not_permitted");
  EXPECT_TRUE(daemon_->waitFor("", 1s));
  ASSERT_EQ(ctl({"status"}).code, 0);  // root still gets in
}

TEST_F(Ctl, RefusesAnUnprivilegedUserByFileMode) {
  auto r = asNobody({kCtl, "--socket", socket_, "status"});
  EXPECT_EQ(r.code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("permission denied"), std::string::npos) << r.err;
}

TEST_F(Ctl, AdmitsAnAllowedUnprivilegedUser) {
  startDaemon({"--mode", "0666", "--allow-uid", "65534"});
  auto r = asNobody({kCtl, "--socket", socket_, "pid", "amayo"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "4242\n");
}

TEST_F(Ctl, TopWithoutATerminalIsAUsageError) {
  auto r = ctl({"top"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("top needs a terminal"), std::string::npos);
}

TEST_F(Ctl, ShellReadsCommandsFromAPipe) {
  std::vector<std::string> argv = {kCtl, "--socket", socket_};
  auto r = testing::runProcess(argv, {}, "pid amayo\n# a comment\nsweep amayo\nquit\nstatus\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "4242\namayo: swept 12.3 MiB in 4.2 ms\n");
}

TEST(Format, SizesAndDurations) {
  // Covered through the CLI above; these pin the unit rules.
  auto r = testing::runProcess({kCtl, "--socket", "/nonexistent/x", "limit", "a", "1.5GiB"});
  EXPECT_EQ(r.code, 3);  // size accepted, then no daemon
  r = testing::runProcess({kCtl, "--socket", "/nonexistent/x", "limit", "a", "12 parsecs"});
  EXPECT_EQ(r.code, 2);
}

}  // namespace
}  // namespace memvisor::control
