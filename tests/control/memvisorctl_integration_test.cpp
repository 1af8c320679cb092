// memvisorctl end to end: a real memvisord supervising the reference bot (memvisor-bot),
// driven through every command, --json parsed and checked, refusals of an unprivileged
// user, and a daemon that went away.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "test_util.hpp"

namespace memvisor::control {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::Background;
using testing::ProcResult;
using testing::TempDir;

const std::string kCtl = MEMVISORCTL_BIN;
const std::string kDaemon = MEMVISORD_BIN;
const std::string kBot = MEMVISOR_BOT_BIN;

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(start("0600")); }
  void TearDown() override {
    if (daemon_) daemon_->stop();
    if (HasFailure()) {
      std::ifstream in(dir_.file("memvisord.log"));
      std::stringstream s;
      s << in.rdbuf();
      std::cout << "--- memvisord journal ---\n" << s.str();
    }
  }

  void writeConfig(const std::string& mode, const std::string& limit) {
    std::ofstream(dir_.file("memvisor.yaml"))
        << "daemon:\n"
        << "  bot_socket: " << dir_.file("bot.sock") << "\n"
        << "  control_socket: " << socket_ << "\n"
        << "  control_mode: \"" << mode << "\"\n"
        << "bots:\n"
        << "  - name: amayo\n"
        << "    spawn:\n"
        << "      command: [" << kBot << ", --rate, \"200\", --progress-interval, \"0\"]\n"
        << "    limit: " << limit << "\n"
        << "    thresholds:\n"
        << "      - {at: 80%, action: sweep}\n"
        << "      - {at: 90%, action: compact}\n"
        << "    stats_interval: 1s\n"
        << "    restart: {start_seconds: 1s}\n";  // RUNNING after 1 s, not the default 10 s
  }

  void start(const std::string& mode) {
    socket_ = dir_.file("ctl.sock");
    writeConfig(mode, "384MiB");
    daemon_ = std::make_unique<Background>(
        std::vector<std::string>{kDaemon, "--config", dir_.file("memvisor.yaml")},
        dir_.file("memvisord.log"));
    ASSERT_TRUE(waitRunning()) << "amayo never became RUNNING and connected";
  }

  ProcResult ctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {kCtl, "--socket", socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::runProcess(argv);
  }
  json ctlJson(std::vector<std::string> args, int expect_code = 0) {
    args.push_back("--json");
    auto r = ctl(args);
    EXPECT_EQ(r.code, expect_code) << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out;
    return j;
  }
  json amayo() {
    json j = ctlJson({"status", "amayo"});
    return j.is_object() && j["bots"].size() == 1 ? j["bots"][0] : json::object();
  }
  bool waitRunning(std::int64_t not_pid = 0) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = ctl({"status", "amayo", "--json"});
      if (r.code == 0) {
        json b = json::parse(r.out, nullptr, false)["bots"][0];
        if (b["state"] == "RUNNING" && b["connected"] == true && b["pid"] != not_pid &&
            b.contains("rss_bytes")) {
          return true;
        }
      }
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }
  static std::string commOf(std::int64_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string s;
    std::getline(in, s);
    return s;
  }

  TempDir dir_;
  std::string socket_;
  std::unique_ptr<Background> daemon_;
};

TEST_F(EndToEnd, StatusDescribesTheRealBot) {
  json b = amayo();
  EXPECT_EQ(b["name"], "amayo");
  EXPECT_EQ(b["state"], "RUNNING");
  EXPECT_EQ(b["limit_bytes"], 384LL << 20);
  EXPECT_EQ(b["limit_source"], "config");
  EXPECT_GT(b["rss_bytes"].get<std::int64_t>(), 1 << 20);
  EXPECT_EQ(commOf(b["pid"].get<std::int64_t>()), "memvisor-bot");
  EXPECT_EQ(b["thresholds_bytes"].size(), 2u);
  auto r = ctl({"status"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("amayo  RUNNING"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("384.0 MiB"), std::string::npos) << r.out;
  r = ctl({"pid", "amayo"});
  EXPECT_EQ(r.out, std::to_string(b["pid"].get<std::int64_t>()) + "\n");
}

TEST_F(EndToEnd, ActionsRunInTheBotAndAreJournalled) {
  for (const char* action : {"trim", "sweep", "compact"}) {
    json j = ctlJson({action, "amayo"});
    ASSERT_EQ(j["results"].size(), 1u) << j;
    EXPECT_EQ(j["results"][0]["ok"], true) << j;
    EXPECT_GT(j["results"][0]["duration_ms"].get<double>(), 0.0) << j;
  }
  auto r = ctl({"sweep", "all"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("amayo: swept ", 0), 0u) << r.out;
  // "amayo: swept 1.2 MiB in 3 ms", or "... in 3 ms (memory grew 212 KiB)" when the running
  // bot allocated more than the sweep freed meanwhile.
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(^amayo: swept .+ in [0-9.]+ ms( \(memory grew .+\))?\n)")))
      << r.out;
  json b = amayo();
  ASSERT_TRUE(b.contains("last_action")) << b;
  EXPECT_EQ(b["last_action"]["action"], "sweep");
  r = ctl({"events", "amayo", "--since", "1m"});
  EXPECT_NE(r.out.find("action compact"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("trigger=operator"), std::string::npos) << r.out;
  r = ctl({"trim", "nobody-here"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("nobody-here: ERROR (unknown_bot"), std::string::npos) << r.out;
}

TEST_F(EndToEnd, StopStartAndRestartTheBot) {
  const std::int64_t pid = amayo()["pid"];
  auto r = ctl({"stop", "amayo"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("amayo: stopped", 0), 0u) << r.out;
  json b = amayo();
  EXPECT_EQ(b["state"], "STOPPED");
  EXPECT_EQ(b["pid"], 0);
  EXPECT_NE(commOf(pid), "memvisor-bot") << "the bot still runs";
  EXPECT_EQ(ctl({"pid", "amayo"}).code, 1);
  EXPECT_EQ(ctl({"trim", "amayo"}).code, 1);

  r = ctl({"start", "amayo"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  ASSERT_TRUE(waitRunning(pid));
  const std::int64_t started = amayo()["pid"];

  json j = ctlJson({"restart", "amayo"});
  EXPECT_EQ(j["results"][0]["ok"], true) << j;
  ASSERT_TRUE(waitRunning(started));
  b = amayo();
  EXPECT_NE(b["pid"], started);
  EXPECT_GE(b["restarts"].get<int>(), 1);
  EXPECT_EQ(commOf(b["pid"].get<std::int64_t>()), "memvisor-bot");
}

TEST_F(EndToEnd, LimitChangesAtRunTimeAndIsJournalled) {
  auto r = ctl({"limit", "amayo"});
  EXPECT_EQ(r.out, "amayo: limit 384.0 MiB (from the config)\n");
  json j = ctlJson({"limit", "amayo", "512MiB"});
  EXPECT_EQ(j["limit_bytes"], 512LL << 20);
  EXPECT_EQ(j["source"], "runtime");
  json b = amayo();
  EXPECT_EQ(b["limit_bytes"], 512LL << 20);
  EXPECT_EQ(b["limit_source"], "runtime");
  r = ctl({"events", "amayo", "--since", "1m"});
  EXPECT_NE(r.out.find("limit set at runtime to 512 MiB"), std::string::npos) << r.out;
  EXPECT_EQ(ctl({"limit", "amayo", "lots"}).code, 2);
}

TEST_F(EndToEnd, ReloadWithANewFileLimitReplacesTheRuntimeLimit) {
  ASSERT_EQ(ctl({"limit", "amayo", "512MiB"}).code, 0);
  writeConfig("0600", "400MiB");
  auto r = ctl({"reload"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("reloaded"), std::string::npos) << r.out;
  json b = amayo();
  EXPECT_EQ(b["limit_bytes"], 400LL << 20);
  EXPECT_EQ(b["limit_source"], "config");
}

// Issue 5 and PROTOCOL.md 7.5: "a reload of the file restores the file's value", even when
// the file's limit did not change.
TEST_F(EndToEnd, ReloadOfAnUnchangedFileRestoresTheFileLimit) {
  ASSERT_EQ(ctl({"limit", "amayo", "512MiB"}).code, 0);
  ASSERT_EQ(ctl({"reload"}).code, 0);
  json b = amayo();
  EXPECT_EQ(b["limit_bytes"], 384LL << 20);
  EXPECT_EQ(b["limit_source"], "config");
}

TEST_F(EndToEnd, ABadReloadIsExplainedAndTheOldConfigKeepsRunning) {
  std::ofstream(dir_.file("memvisor.yaml"), std::ios::app) << "    bogus_key: 1\n";
  auto r = ctl({"reload"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the config was not reloaded"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("memvisor.yaml:15:5: bots[0].bogus_key: unknown key"), std::string::npos)
      << r.err;
  json j = ctlJson({"reload"}, 1);
  EXPECT_EQ(j["ok"], false);
  EXPECT_FALSE(j["errors"].empty());
  EXPECT_EQ(amayo()["state"], "RUNNING");
  EXPECT_EQ(amayo()["limit_bytes"], 384LL << 20);
}

TEST_F(EndToEnd, EventsFollowShowsActionsAsTheyHappen) {
  Background follow({kCtl, "--socket", socket_, "events", "amayo", "--follow", "--json"});
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(ctl({"compact", "amayo"}).code, 0);
  ASSERT_TRUE(follow.waitFor("\"kind\":\"action\"", 10s)) << follow.output();
  std::istringstream lines(follow.output());
  std::string line;
  bool seen = false;
  while (std::getline(lines, line)) {
    json e = json::parse(line, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << line;
    if (e["kind"] == "action" && e["fields"]["action"] == "compact") seen = true;
  }
  EXPECT_TRUE(seen) << follow.output();
}

TEST_F(EndToEnd, RefusesAnUnprivilegedUserAndJournalsIt) {
  daemon_->stop();
  daemon_.reset();
  ASSERT_NO_FATAL_FAILURE(start("0666"));  // so that SO_PEERCRED, not the file mode, decides
  auto r = testing::runProcess({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", kCtl,
                                "--socket", socket_, "status"});
  EXPECT_EQ(r.code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("uid 65534"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not permitted"), std::string::npos) << r.err;
  r = ctl({"events", "--since", "1m"});
  EXPECT_NE(r.out.find("control_refused"), std::string::npos) << r.out;
}

std::size_t fdCount(pid_t pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++n;
  }
  return n;
}

TEST_F(EndToEnd, ControlClientsLeaveNoDescriptorsBehindInTheDaemon) {
  const pid_t pid = daemon_->pid();
  ASSERT_EQ(ctl({"status"}).code, 0);
  const std::size_t before = fdCount(pid);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(ctl({"status"}).code, 0);
  for (int i = 0; i < 5; ++i) {  // followers that die without a goodbye
    Background follow({kCtl, "--socket", socket_, "events", "--follow"});
    follow.waitFor("\n", 5s);
    follow.stop(SIGKILL);
  }
  std::size_t after = 0;
  for (int i = 0; i < 50; ++i) {  // the daemon notices the hang-ups on its next turn
    after = fdCount(pid);
    if (after <= before) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_LE(after, before);
}

TEST_F(EndToEnd, ReportsADaemonThatWentAway) {
  daemon_->stop();  // SIGTERM: orderly shutdown unlinks the socket
  daemon_.reset();
  auto r = ctl({"status"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err, "Error: " + socket_ + " does not exist (is memvisord running?)\n");
}

}  // namespace
}  // namespace memvisor::control
