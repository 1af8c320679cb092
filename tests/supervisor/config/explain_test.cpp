// --check-config's explanation and the reload diff.
#include <gtest/gtest.h>

#include "memvisor/config/load.hpp"

namespace memvisor::config {
namespace {

Config load(const std::string& yaml) {
  auto r = loadConfigString(yaml, "e.yaml");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : Config{};
}

const char* kBase = R"(bots:
  - name: amayo
    profile: prod
    spawn: {command: [node, index.js]}
  - name: helper
    limit: 128MiB
    attach: {connect: true}
)";

TEST(ExplainConfig, SaysWhatEachBotDoesAtWhichMiB) {
  const std::string text = explainConfig(load(kBase));
  for (const char* expected : {
           "e.yaml: OK, 2 bots",
           "bot amayo:",
           "  limit: 384 MiB",
           "trim at 268.8 MiB (70%) for 2 samples",
           "sweep at 307.2 MiB (80%)",
           "compact at 345.6 MiB (90%)",
           "restart at 384 MiB (100%) for 10s",
           "at 422.4 MiB: immediate restart (hard ceiling)",
           "at 480 MiB: the kernel's OOM killer",
           "spawn.env.CACHE_MESSAGES_LIMIT: 50",
           "bot helper:",
           "mode: attach by connect",
           "attach.restart_command: (none: memvisord never restarts it)",
           "at 128 MiB: restart (journalled only: memvisord did not start this bot",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << text;
  }
}

// The sidecar's config: attach mode with allow_shutdown and a profile that has a kernel margin.
TEST(ExplainConfig, SaysHowAnAttachedBotIsRestartedAndThatItsKernelLimitIsNotOurs) {
  const std::string text = explainConfig(load(R"(bots:
  - name: refbot
    profile: prod
    attach: {connect: true, uid: 1000, allow_shutdown: true}
)"));
  for (const char* expected : {
           "attach.restart_command: (none: a restart asks the bot to shut down; allow_shutdown is set)",
           "kernel_limit: not set by memvisord (attach mode",
           "at 384 MiB: restart (by asking the bot to shut down, allow_shutdown",
           "at 422.4 MiB: immediate restart (hard ceiling) (by asking the bot to shut down",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << text;
  }
  EXPECT_EQ(text.find("journalled only"), std::string::npos) << text;
  EXPECT_EQ(text.find("OOM killer"), std::string::npos) << "no kernel limit of ours in:\n" << text;
}

TEST(DiffConfigs, IsEmptyForTheSameConfig) {
  const Config a = load(kBase);
  const ConfigDiff d = diffConfigs(a, a);
  EXPECT_TRUE(d.empty());
  EXPECT_TRUE(d.changed_bots.empty());
  EXPECT_FALSE(d.daemon_changed);
}

TEST(DiffConfigs, NamesAddedRemovedAndChangedBots) {
  const Config a = load(kBase);
  const Config b = load(R"(daemon: {control_socket: /run/other.sock}
bots:
  - name: amayo
    profile: prod
    limit: 512MiB
    spawn: {command: [node, index.js], env: {CACHE_MESSAGES_LIMIT: 10}}
  - name: fresh
    profile: ultra
    spawn: {command: [x]}
)");
  const ConfigDiff d = diffConfigs(a, b);
  EXPECT_EQ(d.added_bots, std::vector<std::string>{"fresh"});
  EXPECT_EQ(d.removed_bots, std::vector<std::string>{"helper"});
  EXPECT_EQ(d.changed_bots, std::vector<std::string>{"amayo"});
  EXPECT_EQ(d.respawn_bots, std::vector<std::string>{"amayo"});
  EXPECT_TRUE(d.daemon_changed);
  auto has = [&](const std::string& s) {
    for (const auto& c : d.changes) {
      if (c.find(s) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("bot amayo: limit: 384 MiB -> 512 MiB"));
  EXPECT_TRUE(has("bot amayo: spawn.env.CACHE_MESSAGES_LIMIT: 50 -> 10 (at the next start)"));
  EXPECT_TRUE(has("bot fresh added"));
  EXPECT_TRUE(has("bot helper removed"));
  EXPECT_TRUE(has("daemon.control_socket"));
}

}  // namespace
}  // namespace memvisor::config
