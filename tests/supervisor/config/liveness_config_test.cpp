// The liveness and monitor sections: profile defaults, overrides, the seed's
// MEMORY_LOG_INTERVAL_SECONDS as the monitor's interval, errors with their position, and
// what --check-config says about them.
#include <gtest/gtest.h>

#include "memvisor/config/load.hpp"
#include "memvisor/config/profiles.hpp"

namespace memvisor::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

BotConfig one(const std::string& extra, const char* head = "    profile: prod\n") {
  auto r = loadConfigString(
      std::string("bots:\n  - name: amayo\n") + head + "    spawn: {command: [node, index.js]}\n" + extra,
      "l.yaml");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? r->bots.at(0) : BotConfig{};
}

std::string failure(const std::string& extra) {
  auto r = loadConfigString(
      "bots:\n  - name: amayo\n    profile: prod\n    spawn: {command: [node, index.js]}\n" + extra,
      "l.yaml");
  EXPECT_FALSE(r.ok()) << "accepted: " << extra;
  return r.ok() ? "" : r.error().message;
}

TEST(LivenessConfig, EveryProfileHasDocumentedDefaults) {
  for (const auto& p : builtinProfiles()) {
    EXPECT_TRUE(p.liveness.enabled) << p.name;
    EXPECT_EQ(p.liveness.every, seconds(10)) << p.name;
    EXPECT_EQ(p.liveness.deadline, seconds(5)) << p.name;
    EXPECT_EQ(p.liveness.misses, 3) << p.name;
    EXPECT_EQ(p.liveness.on_hung, OnHung::kRestart) << p.name;
    ASSERT_TRUE(p.liveness.max_lag) << p.name;
    EXPECT_EQ(*p.liveness.max_lag, seconds(5)) << p.name;
    ASSERT_TRUE(p.monitor.alert_at) << p.name;
    EXPECT_EQ(p.monitor.alert_at->toString(), "80%") << p.name;
  }
}

TEST(LivenessConfig, KeysOverrideTheProfileOneByOne) {
  const auto b = one("    liveness: {every: 6s, misses: 5, on_hung: journal, max_lag: off}\n");
  EXPECT_EQ(b.liveness.every, seconds(6));
  EXPECT_EQ(b.liveness.deadline, seconds(5)) << "kept from the profile";
  EXPECT_EQ(b.liveness.misses, 5);
  EXPECT_EQ(b.liveness.on_hung, OnHung::kJournal);
  EXPECT_FALSE(b.liveness.max_lag);
  EXPECT_FALSE(one("    liveness: off\n").liveness.enabled);
  EXPECT_FALSE(one("    liveness: {enabled: false}\n").liveness.enabled);
}

TEST(LivenessConfig, MonitorIntervalComesFromTheSeedVariableUnlessGiven) {
  EXPECT_EQ(one("").monitor.log_every, seconds(120)) << "prod: MEMORY_LOG_INTERVAL_SECONDS=120";
  EXPECT_EQ(one("    profile: ultra\n", "").monitor.log_every, seconds(60));
  EXPECT_EQ(one("", "    limit: 100MiB\n").monitor.log_every, milliseconds(0)) << "no variable: off";
  EXPECT_EQ(one("    monitor: {log_every: 30s}\n").monitor.log_every, seconds(30));
  EXPECT_EQ(one("    monitor: {log_every: off}\n").monitor.log_every, milliseconds(0));
  const auto b = one("    monitor: {alert_at: 90%, alert_hysteresis: 2%, stale_after: 5}\n");
  EXPECT_EQ(b.monitor.alert_at->toString(), "90%");
  EXPECT_EQ(b.monitor.alert_hysteresis.toString(), "2%");
  EXPECT_EQ(b.monitor.stale_after, 5);
  EXPECT_FALSE(one("    monitor: {alert_at: off}\n").monitor.alert_at);
}

TEST(LivenessConfig, BadValuesAreNamedWithTheirPosition) {
  EXPECT_EQ(failure("    liveness: {every: 1s, deadline: 2s}\n"),
            "l.yaml:5:15: bots[0].liveness.deadline: must not exceed every (1s), got 2s: one "
            "ping at a time is outstanding");
  EXPECT_EQ(failure("    liveness: {on_hung: restrat}\n"),
            "l.yaml:5:25: bots[0].liveness.on_hung: expected journal|restart, got 'restrat' "
            "(did you mean 'restart'?)");
  EXPECT_NE(failure("    liveness: {misses: 0}\n").find("bots[0].liveness.misses: must be 1..100"),
            std::string::npos);
  EXPECT_NE(failure("    liveness: {pings: 3}\n").find("bots[0].liveness"), std::string::npos);
  EXPECT_NE(failure("    monitor: {alert_at: 140%}\n").find("bots[0].monitor.alert_at: must be 1%..100%"),
            std::string::npos);
}

TEST(LivenessConfig, CheckConfigExplainsLivenessAndTheAlert) {
  auto r = loadConfigString(
      "bots:\n  - name: amayo\n    profile: prod\n    spawn: {command: [node, index.js]}\n"
      "  - name: side\n    profile: prod\n    attach: {connect: true}\n",
      "l.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::string text = explainConfig(*r);
  for (const char* expected :
       {"liveness: ping every 10s, a pong later than 5s is a miss; 3 misses in a row make the "
        "bot hung (caught within 35s), as does event-loop lag above 5s for 1m; then a graceful "
        "restart (shutdown within 10s, then SIGTERM, SIGKILL after 10s)",
        "then a journal line only (memvisord cannot restart this bot)",
        "monitor.log_every: a journal line with the bot's own figures every 2m",
        "monitor.alert: warn at 307.2 MiB (80% of the limit) of rss, once per crossing: "
        "re-arms below 288 MiB",
        "monitor.stale_after: 3 stats intervals (15s) without stats"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "\n" << text;
  }
}

}  // namespace
}  // namespace memvisor::config
