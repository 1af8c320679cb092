// Liveness with the real reference bot: a bot whose event loop hangs (--hang blocks it at
// the first command, a ping) is found hung and restarted through the graceful path, which
// falls through to signals; a bot frozen for less than the ping deadline is not; with
// on_hung: journal the bot stays up and shows HUNG in status, the journal and /metrics.
#include <gtest/gtest.h>
#include <signal.h>

#include "ctl_run.hpp"
#include "daemon_harness.hpp"
#include "http_client.hpp"

namespace memvisor::testing {
namespace {

const std::string kBot = MEMVISOR_BOT_BIN;

std::int64_t tsOf(const json& e) { return e.contains("ts_ms") ? e["ts_ms"].get<std::int64_t>() : 0; }

bool isHung(const json& e) { return str(e, "kind") == "liveness" && str(e, "state") == "hung"; }

TEST(Liveness, AHungBotIsRestartedWithinPingsDeadlineAndStopTimeout) {
  Daemon d("hang");
  // every x misses + deadline = 2.5 s to notice; then shutdown (1 s, unanswered), the stop
  // signal (ignored while hung: the bot loops in pause()), SIGKILL after stop_timeout 1 s.
  d.writeConfig("  - name: hanger\n    limit: 256MiB\n"
                "    liveness: {every: 1s, deadline: 500ms, misses: 2, on_hung: restart}\n"
                "    deadlines: {shutdown: 1s}\n    stop_timeout: 1s\n"
                "    spawn:\n      command: [" + kBot +
                ", --hang, --rate, \"20\", --progress-interval, \"0\"]\n");
  d.start();
  const auto session = d.waitFor([](const json& e) {
    return str(e, "kind") == "session" && str(e, "msg").find("connected") != std::string::npos;
  }, 20s);
  ASSERT_TRUE(session) << d.journalText();
  const auto hung = d.waitFor(isHung, 15s);
  ASSERT_TRUE(hung) << d.journalText();
  EXPECT_EQ(str(*hung, "on_hung"), "restart");
  EXPECT_NE(str(*hung, "msg").find("2 pings in a row unanswered within 500ms"), std::string::npos)
      << str(*hung, "msg");
  const auto exit = d.waitForKind("exit", 15s);
  ASSERT_TRUE(exit) << d.journalText();
  const auto again = d.waitForKind("spawn", 15s, 1);
  ASSERT_TRUE(again) << d.journalText();
  EXPECT_NE(num(*again, "pid"), num(*exit, "pid"));
  // Journal times are memvisord's own clock. 500 ms of slack for a loaded machine's timers.
  const std::int64_t noticed = tsOf(*hung) - tsOf(*session);
  const std::int64_t ended = tsOf(*exit) - tsOf(*session);
  std::printf("hung noticed after %lld ms (bound 2500), bot ended after %lld ms (bound 4500)\n",
              static_cast<long long>(noticed), static_cast<long long>(ended));
  EXPECT_LE(noticed, 2500 + 500);
  EXPECT_GE(noticed, 1000);  // two misses need two pings, one `every` apart
  EXPECT_LE(ended, 2500 + 1000 + 1000 + 500);
  // It took the signals: SIGTERM, then SIGKILL.
  EXPECT_NE(str(*exit, "status").find("(KILL)"), std::string::npos) << str(*exit, "status");
  d.stop();
}

TEST(Liveness, ABotFrozenForLessThanTheDeadlineIsNotHung) {
  Daemon d("freeze");
  d.writeConfig("  - name: frozen\n    limit: 256MiB\n"
                "    liveness: {every: 1s, deadline: 1s, misses: 2}\n"
                "    spawn:\n      command: [" + kBot + ", --rate, \"20\", --progress-interval, \"0\"]\n");
  d.start();
  const auto spawn = d.waitForKind("spawn", 20s);
  ASSERT_TRUE(spawn) << d.journalText();
  ASSERT_TRUE(d.waitForKind("session", 20s)) << d.journalText();
  const pid_t pid = static_cast<pid_t>(num(*spawn, "pid"));
  // Freeze the whole process (its loop cannot answer) for 400 ms at a time, 5 times.
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(::kill(pid, SIGSTOP), 0);
    std::this_thread::sleep_for(400ms);
    ::kill(pid, SIGCONT);
    std::this_thread::sleep_for(600ms);
  }
  std::this_thread::sleep_for(1500ms);  // the last ping's deadline has passed
  EXPECT_FALSE(d.waitFor(isHung, 0ms)) << d.journalText();
  const json st = ctlStatus(d.socket("ctl.sock"), "frozen");
  ASSERT_FALSE(st.is_null());
  EXPECT_EQ(st.value("liveness", ""), "ok") << st.dump();
  EXPECT_TRUE(st.contains("ping_ms")) << st.dump();
  EXPECT_EQ(d.entries("restart").size(), 0u) << d.journalText();
  EXPECT_EQ(d.stop(), 0);
}

TEST(Liveness, OnHungJournalKeepsTheBotAndShowsHungEverywhere) {
  Daemon d("hung-journal");
  const int port = freePort();
  std::ofstream(d.dir / "memvisord.yaml")
      << "daemon:\n  bot_socket: " << d.socket("bot.sock")
      << "\n  control_socket: " << d.socket("ctl.sock") << "\n  metrics_listen: 127.0.0.1:" << port
      << "\nbots:\n  - name: stuck\n    limit: 256MiB\n"
      << "    liveness: {every: 500ms, deadline: 300ms, misses: 2, on_hung: journal}\n"
      << "    stop_timeout: 1s\n    deadlines: {shutdown: 1s}\n"
      << "    spawn:\n      command: [" << kBot << ", --hang, --rate, \"20\", --progress-interval, \"0\"]\n";
  d.start();
  const auto hung = d.waitFor(isHung, 20s);
  ASSERT_TRUE(hung) << d.journalText();
  EXPECT_EQ(str(*hung, "on_hung"), "journal");
  std::this_thread::sleep_for(1500ms);  // more misses: no second verdict, no restart
  std::size_t verdicts = 0;
  for (const auto& e : d.entries("liveness")) verdicts += isHung(e) ? 1 : 0;
  EXPECT_EQ(verdicts, 1u);
  EXPECT_TRUE(d.entries("restart").empty()) << d.journalText();
  const json st = ctlStatus(d.socket("ctl.sock"), "stuck");
  ASSERT_FALSE(st.is_null());
  EXPECT_TRUE(st.value("state", "") == "RUNNING" || st.value("state", "") == "STARTING") << st.dump();
  EXPECT_EQ(st.value("liveness", ""), "hung");
  EXPECT_NE(st.value("liveness_reason", "").find("unanswered"), std::string::npos) << st.dump();
  const CtlRun table = runCtl(d.socket("ctl.sock"), "status stuck");
  EXPECT_NE(table.out.find("HUNG"), std::string::npos) << table.out;
  const std::string body = httpGet(port, "/metrics");
  double v = -1;
  EXPECT_TRUE(metricValue(body, "memvisor_bot_hung{bot=\"stuck\"}", v)) << body;
  EXPECT_EQ(v, 1);
  EXPECT_TRUE(metricValue(body, "memvisor_bot_hangs_total{bot=\"stuck\"}", v)) << body;
  EXPECT_EQ(v, 1);
  d.stop();
}

}  // namespace
}  // namespace memvisor::testing
