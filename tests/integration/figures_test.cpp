// The bot's own figures with the real reference bot: `memvisorctl status --json` and a scrape
// of /metrics carry its heap, event-loop lag and entries per cache; memvisord writes the
// seed's monitor line; figures of a bot that stops sending stats turn stale (and vanish from
// /metrics) rather than being shown as current; the 80 % alert appears once per crossing.
#include <gtest/gtest.h>
#include <signal.h>

#include "ctl_run.hpp"
#include "daemon_harness.hpp"
#include "http_client.hpp"

namespace memvisor::testing {
namespace {

const std::string kBot = MEMVISOR_BOT_BIN;

class Figures : public ::testing::Test {
 protected:
  void start(const std::string& bot_yaml) {
    port_ = freePort();
    std::ofstream(d_.dir / "memvisord.yaml")
        << "daemon:\n  bot_socket: " << d_.socket("bot.sock")
        << "\n  control_socket: " << d_.socket("ctl.sock") << "\n  metrics_listen: 127.0.0.1:"
        << port_ << "\nbots:\n"
        << bot_yaml;
    d_.start();
    ASSERT_TRUE(d_.waitForKind("session", 20s)) << d_.journalText();
  }
  std::string ctl() const { return d_.socket("ctl.sock"); }
  Daemon d_{"figures"};
  int port_ = 0;
};

TEST_F(Figures, StatusJsonAndMetricsCarryTheCppBotsHeapLagAndCaches) {
  start("  - name: cpp\n    limit: 256MiB\n    stats_interval: 200ms\n"
        "    monitor: {stale_after: 3}\n"
        "    spawn:\n      command: [" + kBot + ", --rate, \"200\", --progress-interval, \"0\"]\n"
        "      env: {MEMORY_LOG_INTERVAL_SECONDS: \"1\"}\n");
  json st;
  for (int i = 0; i < 100; ++i) {
    st = ctlStatus(ctl(), "cpp");
    if (!st.is_null() && st.contains("bot_stats") && st["bot_stats"].contains("caches") &&
        st["bot_stats"]["caches"].value("messages", 0) > 0) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(st.contains("bot_stats")) << st.dump();
  const json& bs = st["bot_stats"];
  EXPECT_FALSE(bs["stale"].get<bool>());
  EXPECT_LT(bs["age_ms"].get<long long>(), 3 * 200 + 500);
  EXPECT_GT(bs.value("heap_used_bytes", 0LL), 0) << bs.dump();
  EXPECT_GE(bs.value("heap_total_bytes", 0LL), bs.value("heap_used_bytes", 0LL)) << bs.dump();
  EXPECT_TRUE(bs.contains("event_loop_lag_ms")) << bs.dump();
  EXPECT_GT(bs["caches"].value("messages", 0LL), 0) << bs.dump();
  EXPECT_TRUE(bs["caches"].contains("members")) << bs.dump();

  const std::string body = httpGet(port_, "/metrics");
  double v = -1;
  EXPECT_TRUE(metricValue(body, "memvisor_bot_heap_used_bytes{bot=\"cpp\"}", v)) << body;
  EXPECT_GT(v, 0);
  EXPECT_TRUE(metricValue(body, "memvisor_bot_heap_total_bytes{bot=\"cpp\"}", v)) << body;
  EXPECT_TRUE(metricValue(body, "memvisor_bot_event_loop_lag_seconds{bot=\"cpp\"}", v)) << body;
  EXPECT_GE(v, 0);
  EXPECT_TRUE(metricValue(body, "memvisor_bot_cache_entries{bot=\"cpp\",cache=\"messages\"}", v))
      << body;
  EXPECT_GT(v, 0);
  EXPECT_TRUE(metricValue(body, "memvisor_bot_stats_stale{bot=\"cpp\"}", v)) << body;
  EXPECT_EQ(v, 0);

  // The seed's monitor line, every MEMORY_LOG_INTERVAL_SECONDS, with the bot's own figures.
  const auto line = d_.waitForKind("monitor", 5s);
  ASSERT_TRUE(line) << d_.journalText();
  EXPECT_NE(str(*line, "msg").find("heapUsed="), std::string::npos) << line->dump();
  EXPECT_NE(str(*line, "msg").find("evLoopDelay="), std::string::npos) << line->dump();
  EXPECT_GT(num(*line, "rss_bytes"), 0) << line->dump();
  EXPECT_GT(num(*line, "heap_used_bytes"), 0) << line->dump();

  // The compact table shows heap and lag; -v everything, caches included.
  const CtlRun table = runCtl(ctl(), "status cpp");
  EXPECT_NE(table.out.find("HEAP"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(" ms"), std::string::npos) << table.out;
  const CtlRun detail = runCtl(ctl(), "show cpp");
  EXPECT_EQ(detail.code, 0);
  EXPECT_NE(detail.out.find("caches:"), std::string::npos) << detail.out;
  EXPECT_NE(detail.out.find("messages "), std::string::npos) << detail.out;

  // A bot that stops sending stats (frozen) is stale after 3 x 200 ms, not shown as current.
  const auto spawn = d_.entries("spawn");
  ASSERT_FALSE(spawn.empty());
  const pid_t pid = static_cast<pid_t>(num(spawn[0], "pid"));
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  const auto stale = d_.waitFor([](const json& e) {
    return str(e, "kind") == "stats" && str(e, "level") == "warn";
  }, 5s);
  const json frozen = ctlStatus(ctl(), "cpp");
  const std::string frozen_body = httpGet(port_, "/metrics");
  ::kill(pid, SIGCONT);
  ASSERT_TRUE(stale) << d_.journalText();
  ASSERT_TRUE(frozen.contains("bot_stats")) << frozen.dump();
  EXPECT_TRUE(frozen["bot_stats"]["stale"].get<bool>()) << frozen.dump();
  EXPECT_FALSE(metricValue(frozen_body, "memvisor_bot_heap_used_bytes{bot=\"cpp\"}", v))
      << frozen_body;
  EXPECT_TRUE(metricValue(frozen_body, "memvisor_bot_stats_stale{bot=\"cpp\"}", v)) << frozen_body;
  EXPECT_EQ(v, 1);
  EXPECT_TRUE(d_.waitFor([](const json& e) {
    return str(e, "kind") == "stats" && str(e, "msg").find("again") != std::string::npos;
  }, 5s)) << d_.journalText();
  EXPECT_EQ(d_.stop(), 0);
}

TEST_F(Figures, TheMemoryAlertAppearsOncePerCrossing) {
  // Every 3 s the bot holds 80 MiB more for 1.5 s: its rss crosses 80 % of 100 MiB and falls
  // back below 75 % each time, many samples (100 ms polls) above the line per crossing. The
  // ladder is out of the way: one alert threshold at 99 %, which the spikes never reach.
  start("  - name: spiky\n    limit: 100MiB\n    poll: {min: 100ms, max: 100ms}\n"
        "    thresholds: [{at: 99%, action: alert}]\n    hard_ceiling: 150%\n"
        "    spawn:\n      command: [" + kBot + ", --rate, \"20\", --progress-interval, \"0\","
        " --spike, 80MiB, --spike-interval, \"3\", --spike-hold, \"1.5\"]\n");
  auto raised = [](const json& e) {
    return str(e, "kind") == "alert" && str(e, "msg").rfind("memory alert:", 0) == 0;
  };
  ASSERT_TRUE(d_.waitFor(raised, 30s, 1)) << d_.journalText();  // two crossings
  std::this_thread::sleep_for(500ms);
  std::vector<std::string> seq;
  for (const auto& e : d_.entries("alert")) {
    if (str(e, "bot") != "spiky") continue;
    const std::string m = str(e, "msg");
    if (m.rfind("memory alert:", 0) == 0) seq.emplace_back("raised");
    if (m.rfind("memory alert cleared:", 0) == 0) seq.emplace_back("cleared");
  }
  ASSERT_GE(seq.size(), 3u) << d_.journalText();
  // Once per crossing: raised and cleared alternate, never two raises in a row.
  for (std::size_t i = 0; i < seq.size(); ++i) {
    EXPECT_EQ(seq[i], i % 2 == 0 ? "raised" : "cleared") << "entry " << i << "\n" << d_.journalText();
  }
  const std::size_t raises = static_cast<std::size_t>(std::count(seq.begin(), seq.end(), "raised"));
  const std::string body = httpGet(port_, "/metrics");
  double v = -1;
  ASSERT_TRUE(metricValue(body, "memvisor_bot_memory_alerts_total{bot=\"spiky\"}", v)) << body;
  EXPECT_GE(v, static_cast<double>(raises));  // another crossing may have come since
  EXPECT_TRUE(metricValue(body, "memvisor_bot_memory_alert{bot=\"spiky\"}", v)) << body;
  EXPECT_EQ(d_.stop(), 0);
}

}  // namespace
}  // namespace memvisor::testing
