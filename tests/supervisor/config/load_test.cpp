// Loading valid configs: several bots, spawn and attach, profile defaults overridden key by
// key, the daemon section, and reading from a file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "memvisor/config/load.hpp"

namespace memvisor::config {
namespace {

using namespace std::chrono;

constexpr const char* kFull = R"(
daemon:
  bot_socket: /run/memvisor/bots.sock
  control_socket: /run/memvisor/ctl.sock
  control_mode: "0600"
  allowed_uids: [1000, 1001]
  allowed_gids: [50]
  journal:
    format: json
    file: /var/log/memvisor/journal.jsonl
    max_size: 5MiB
    keep: 4
  metrics_listen: 127.0.0.1:9464
bots:
  - name: amayo
    profile: prod
    spawn:
      command: [node, --expose-gc, dist/index.js]
      env:
        CACHE_MESSAGES_LIMIT: 20
        NODE_ENV: production
        ENABLE_MEMORY_OPTIMIZER:
      cwd: /srv/amayo
      user: amayo
    limit: 400MiB
    thresholds:
      - {at: 90%, action: compact, for: 3 samples, cooldown: 20s, min_freed: 2MiB}
      - {at: 80%, action: sweep, for: 30s}
      - {at: 300MiB, action: alert}
    hysteresis: 10MiB
    escalation: {max: compact}
    periodic:
      - {action: trim, every: 10m, above: 50%}
    predictive: {horizon: 90s, window: 30s, action: trim}
    startup_grace: 2m
    hard_ceiling: 120%
    deadlines: {trim: 2s, compact: 45s}
    stop_signal: SIGINT
    stop_timeout: 20s
    restart: {backoff_initial: 500ms, backoff_max: 2m, start_retries: 3, start_seconds: 5s}
    kernel_limit_margin: 30%
    poll: {min: 100ms, max: 10s}
    stats_interval: 2s
  - name: helper
    attach: {pidfile: /run/helper.pid, restart_command: [systemctl, restart, helper]}
    limit: 128MiB
    metric: pss
  - name: sidecar
    attach: {connect: true, uid: 1000}
    profile: ultra
    hard_ceiling: none
)";

TEST(LoadConfig, ParsesEveryKeyOfAFullFile) {
  auto r = loadConfigString(kFull, "full.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r;
  EXPECT_EQ(c.source, "full.yaml");
  EXPECT_EQ(c.daemon.bot_socket, "/run/memvisor/bots.sock");
  EXPECT_EQ(c.daemon.control_mode, 0600u);
  EXPECT_EQ(c.daemon.allowed_uids, (std::vector<std::uint32_t>{1000, 1001}));
  EXPECT_EQ(c.daemon.allowed_gids, (std::vector<std::uint32_t>{50}));
  EXPECT_EQ(c.daemon.journal.format, config::JournalFormat::kJson);
  EXPECT_EQ(c.daemon.journal.max_size, 5 * kMiB);
  EXPECT_EQ(c.daemon.journal.keep, 4);
  EXPECT_EQ(c.daemon.metrics_listen, "127.0.0.1:9464");
  ASSERT_EQ(c.bots.size(), 3u);

  const BotConfig& a = c.bots[0];
  EXPECT_EQ(a.name, "amayo");
  EXPECT_EQ(a.profile, "prod");
  EXPECT_EQ(a.mode, Mode::kSpawn);
  EXPECT_EQ(a.spawn.command, (std::vector<std::string>{"node", "--expose-gc", "dist/index.js"}));
  EXPECT_EQ(a.spawn.cwd, "/srv/amayo");
  EXPECT_EQ(a.spawn.user, "amayo");
  // Profile env merged with the bot's, a bot value wins, an empty value drops a variable.
  EXPECT_EQ(a.spawn.env.at("CACHE_MESSAGES_LIMIT"), "20");
  EXPECT_EQ(a.spawn.env.at("CACHE_MEMBERS_LIMIT"), "100");
  EXPECT_EQ(a.spawn.env.at("SWEEP_MESSAGES_INTERVAL_SECONDS"), "300");
  EXPECT_EQ(a.spawn.env.at("NODE_ENV"), "production");
  EXPECT_EQ(a.spawn.env.count("ENABLE_MEMORY_OPTIMIZER"), 0u);
  const PolicyConfig& p = a.policy;
  EXPECT_EQ(p.limit, 400 * kMiB);
  EXPECT_EQ(p.metric, Metric::kRss);
  // Sorted by their byte figure: 300 MiB (alert) < 80% (320 MiB) < 90% (360 MiB).
  ASSERT_EQ(p.thresholds.size(), 3u);
  EXPECT_EQ(p.thresholds[0].action, ActionKind::kAlert);
  EXPECT_EQ(p.thresholds[0].at, SizeSpec::absolute(300 * kMiB));
  EXPECT_EQ(p.thresholds[1].action, ActionKind::kSweep);
  EXPECT_EQ(p.thresholds[1].sustain.duration, seconds(30));
  EXPECT_EQ(p.thresholds[1].cooldown, seconds(60));  // default
  EXPECT_EQ(p.thresholds[2].action, ActionKind::kCompact);
  EXPECT_EQ(p.thresholds[2].sustain.samples, 3);
  EXPECT_EQ(p.thresholds[2].cooldown, seconds(20));
  EXPECT_EQ(p.thresholds[2].min_freed, 2 * kMiB);
  EXPECT_EQ(p.hysteresis, SizeSpec::absolute(10 * kMiB));
  EXPECT_TRUE(p.escalation.enabled);
  EXPECT_EQ(p.escalation.max_action, ActionKind::kCompact);
  ASSERT_EQ(p.periodic.size(), 1u);  // the bot's list replaces the profile's
  EXPECT_EQ(p.periodic[0].every, minutes(10));
  EXPECT_EQ(p.periodic[0].above, SizeSpec::percentOf(50));
  ASSERT_TRUE(p.predictive.has_value());
  EXPECT_EQ(p.predictive->horizon, seconds(90));
  EXPECT_EQ(p.predictive->window, seconds(30));
  EXPECT_EQ(p.predictive->action, ActionKind::kTrim);
  EXPECT_EQ(p.startup_grace, minutes(2));
  EXPECT_EQ(p.hard_ceiling, SizeSpec::percentOf(120));
  EXPECT_EQ(p.deadlines.forAction(ActionKind::kTrim), seconds(2));
  EXPECT_EQ(p.deadlines.forAction(ActionKind::kSweep), seconds(10));  // default kept
  EXPECT_EQ(p.deadlines.forAction(ActionKind::kCompact), seconds(45));
  EXPECT_EQ(a.stop_signal, SIGINT);
  EXPECT_EQ(a.stop_timeout, seconds(20));
  EXPECT_EQ(a.restart.backoff_initial, milliseconds(500));
  EXPECT_EQ(a.restart.backoff_max, minutes(2));
  EXPECT_EQ(a.restart.start_retries, 3);
  EXPECT_EQ(a.restart.start_seconds, seconds(5));
  EXPECT_EQ(a.kernel_limit_margin, SizeSpec::percentOf(30));
  EXPECT_EQ(p.poll_min, milliseconds(100));
  EXPECT_EQ(p.poll_max, seconds(10));
  EXPECT_EQ(a.stats_interval, seconds(2));

  const BotConfig& h = c.bots[1];
  EXPECT_EQ(h.mode, Mode::kAttach);
  EXPECT_EQ(h.attach.by, AttachBy::kPidfile);
  EXPECT_EQ(h.attach.pidfile, "/run/helper.pid");
  EXPECT_EQ(h.attach.restart_command, (std::vector<std::string>{"systemctl", "restart", "helper"}));
  EXPECT_EQ(h.policy.limit, 128 * kMiB);
  EXPECT_EQ(h.policy.metric, Metric::kPss);
  EXPECT_EQ(h.policy.thresholds.size(), 4u);  // the default ladder without a profile
  EXPECT_TRUE(h.spawn.env.empty());

  const BotConfig& s = c.bots[2];
  EXPECT_EQ(s.attach.by, AttachBy::kConnect);
  EXPECT_EQ(s.attach.uid, 1000u);
  EXPECT_EQ(s.policy.limit, 192 * kMiB);  // from ultra
  EXPECT_FALSE(s.policy.hard_ceiling.has_value());
  EXPECT_EQ(c.findBot("sidecar"), &c.bots[2]);
  EXPECT_EQ(c.findBot("nobody"), nullptr);
}

TEST(LoadConfig, AppliesDefaultsForAMinimalBot) {
  auto r = loadConfigString("bots:\n  - name: b\n    limit: 256MiB\n    spawn: {command: [./bot]}\n",
                            "min.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = *r;
  EXPECT_EQ(c.daemon.bot_socket, "/run/memvisor/bot.sock");
  EXPECT_EQ(c.daemon.journal.format, config::JournalFormat::kLogfmt);
  const auto& b = c.bots.at(0);
  EXPECT_EQ(b.policy.limit, 256 * kMiB);
  EXPECT_EQ(b.stop_signal, SIGTERM);
  EXPECT_FALSE(b.kernel_limit_margin.has_value());
  ASSERT_TRUE(b.policy.hard_ceiling.has_value());
  EXPECT_EQ(b.policy.hard_ceiling->resolve(b.policy.limit), static_cast<Bytes>(281.6 * kMiB));
}

// PROTOCOL.md 1: 0600 unless the config lets someone else in; an explicit mode wins.
TEST(LoadConfig, DerivesTheControlSocketModeFromTheAllowedPeers) {
  struct Case {
    const char* daemon;
    std::uint32_t mode;
    std::optional<std::uint32_t> gid;
  };
  const Case cases[] = {
      {"{}", 0600, std::nullopt},
      {"{allowed_gids: [50]}", 0660, 50},
      {"{allowed_gids: [50, 51]}", 0666, std::nullopt},
      {"{allowed_uids: [1000]}", 0666, std::nullopt},
      {"{allowed_uids: [1000], allowed_gids: [50]}", 0666, std::nullopt},
      {"{control_mode: \"0640\", allowed_gids: [50]}", 0640, 50},
      {"{control_mode: \"0600\", allowed_uids: [1000]}", 0600, std::nullopt},
  };
  for (const auto& c : cases) {
    auto r = loadConfigString(std::string("daemon: ") + c.daemon +
                                  "\nbots:\n  - name: b\n    limit: 256MiB\n"
                                  "    spawn: {command: [./bot]}\n",
                              "mode.yaml");
    ASSERT_TRUE(r.ok()) << c.daemon << ": " << r.error().message;
    const auto access = controlSocketAccess(r->daemon);
    EXPECT_EQ(access.mode, c.mode) << c.daemon;
    EXPECT_EQ(access.gid, c.gid) << c.daemon;
  }
}

TEST(LoadConfig, ReadsAFileAndNamesItInErrors) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("memvisor-config-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto good = dir / "good.yaml";
  const auto bad = dir / "bad.yaml";
  std::ofstream(good) << "bots:\n  - name: x\n    profile: prod\n    spawn: {command: [x]}\n";
  std::ofstream(bad) << "bots:\n  - name: x\n    profile: prod\n    limit: 300\n    spawn: {command: [x]}\n";
  auto ok = loadConfigFile(good.string());
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->source, good.string());
  auto ko = loadConfigFile(bad.string());
  ASSERT_FALSE(ko.ok());
  EXPECT_EQ(ko.error().code, "bad_config");
  EXPECT_EQ(ko.error().message.rfind(bad.string() + ":4:12: bots[0].limit: bare number 300", 0), 0u)
      << ko.error().message;
  auto missing = loadConfigFile((dir / "nope.yaml").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "io");
  std::filesystem::remove_all(dir);
}

TEST(LoadConfig, AcceptsEveryShippedExample) {
  // deploy/*.yaml are the examples users start from: they must always load.
  std::error_code ec;
  int loaded = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(MEMVISOR_DEPLOY_DIR, ec)) {
    const auto ext = e.path().extension();
    if (ext != ".yaml" && ext != ".yml") continue;
    // memvisord configs are the YAML files with a top-level `bots:` (not compose files,
    // Prometheus rules, ...).
    std::ifstream in(e.path());
    bool is_config = false;
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("bots:", 0) == 0) is_config = true;
    }
    if (!is_config) continue;
    auto r = loadConfigFile(e.path().string());
    EXPECT_TRUE(r.ok()) << e.path() << ":\n" << (r.ok() ? "" : r.error().message);
    ++loaded;
  }
  if (loaded == 0) GTEST_SKIP() << "no memvisord config (YAML with bots:) under " << MEMVISOR_DEPLOY_DIR << " yet";
}

}  // namespace
}  // namespace memvisor::config

namespace memvisor::config {
namespace {

TEST(LoadConfig, SharesSettingsThroughAnchorsAndMergeKeys) {
  auto r = loadConfigString(R"(x-common: &common
  profile: prod
  metric: pss
  stop_timeout: 30s
bots:
  - <<: *common
    name: a
    spawn: {command: [a]}
  - <<: *common
    name: b
    metric: rss
    attach: {connect: true}
)", "anchors.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->bots.size(), 2u);
  EXPECT_EQ(r->bots[0].profile, "prod");
  EXPECT_EQ(r->bots[0].policy.metric, Metric::kPss);
  EXPECT_EQ(r->bots[0].stop_timeout, std::chrono::seconds(30));
  EXPECT_EQ(r->bots[1].policy.metric, Metric::kRss);  // the bot's own key wins
  EXPECT_EQ(r->bots[1].stop_timeout, std::chrono::seconds(30));
}

TEST(LoadConfig, PointsAtTheAnchorForAnErrorInMergedSettings) {
  auto r = loadConfigString(R"(x-common: &common
  profile: prod
  limit: 300
bots:
  - <<: *common
    name: a
    spawn: {command: [a]}
)", "anchors.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errorLines(r.error()).size(), 1u) << r.error().message;
  EXPECT_EQ(r.error().message.rfind("anchors.yaml:3:10: bots[0].limit: bare number 300", 0), 0u)
      << r.error().message;
}

}  // namespace
}  // namespace memvisor::config
