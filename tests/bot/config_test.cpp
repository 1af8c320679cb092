// Profiles, environment variables and size parsing of the reference bot: precedence and
// clear errors for bad values.
#include <gtest/gtest.h>

#include <map>

#include "config.hpp"

namespace memvisor::bot {
namespace {

EnvLookup envOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(BotConfig, DefaultsAreTheSeeds) {
  auto c = loadBotConfig(std::nullopt, envOf({}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->profile, "standard");
  EXPECT_EQ(c->messages_limit, 50);
  EXPECT_EQ(c->members_limit, 100);
  EXPECT_EQ(c->threads_limit, 10);
  EXPECT_EQ(c->presences_limit, 0);
  EXPECT_EQ(c->sweep_messages_interval_s, 300);
  EXPECT_EQ(c->sweep_messages_lifetime_s, 900);
  EXPECT_EQ(c->sweep_users_interval_s, 1800);
  EXPECT_FALSE(c->optimizer);
}

TEST(BotConfig, UltraProfileFromFlagOrEnv) {
  for (auto c : {loadBotConfig(std::string("ultra"), envOf({})), loadBotConfig(std::nullopt, envOf({{"BOT_PROFILE", "ultra"}}))}) {
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->profile, "ultra");
    EXPECT_EQ(c->messages_limit, 10);
    EXPECT_EQ(c->members_limit, 25);
    EXPECT_EQ(c->sweep_messages_interval_s, 120);
    EXPECT_EQ(c->memory_log_interval_s, 60);
  }
}

TEST(BotConfig, FlagProfileBeatsEnvProfileAndEnvVariablesBeatProfile) {
  auto c = loadBotConfig(std::string("prod-optimized"),
                         envOf({{"BOT_PROFILE", "ultra"}, {"CACHE_MESSAGES_LIMIT", "7"}, {"ENABLE_MEMORY_OPTIMIZER", "false"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->profile, "prod-optimized");
  EXPECT_EQ(c->memory_limit_mb, 512);
  EXPECT_EQ(c->messages_limit, 7);
  EXPECT_FALSE(c->optimizer);
}

TEST(BotConfig, ReportsEveryBadValueWithVariableValueAndExpectation) {
  auto c = loadBotConfig(std::nullopt, envOf({{"CACHE_MESSAGES_LIMIT", "fifty"},
                                              {"CACHE_MEMBERS_LIMIT", "-1"},
                                              {"SWEEP_MESSAGES_INTERVAL_SECONDS", "0"},
                                              {"SWEEP_MESSAGES_LIFETIME_SECONDS", "15m"},
                                              {"ENABLE_MEMORY_OPTIMIZER", "maybe"},
                                              {"BOT_PROFILE", "turbo"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, "bad_config");
  const std::string& m = c.error().message;
  EXPECT_NE(m.find("CACHE_MESSAGES_LIMIT: expected an integer 0..100000, got 'fifty'"), std::string::npos) << m;
  EXPECT_NE(m.find("CACHE_MEMBERS_LIMIT: expected an integer"), std::string::npos) << m;
  EXPECT_NE(m.find("got '-1'"), std::string::npos) << m;
  EXPECT_NE(m.find("SWEEP_MESSAGES_INTERVAL_SECONDS: expected an integer 1..86400, got '0'"), std::string::npos) << m;
  EXPECT_NE(m.find("SWEEP_MESSAGES_LIFETIME_SECONDS"), std::string::npos) << m;
  EXPECT_NE(m.find("ENABLE_MEMORY_OPTIMIZER: expected true or false, got 'maybe'"), std::string::npos) << m;
  EXPECT_NE(m.find("BOT_PROFILE: expected one of standard, ultra"), std::string::npos) << m;
}

TEST(BotConfig, AcceptsBooleanSpellings) {
  for (const char* v : {"true", "TRUE", "1", "yes", "on"}) {
    auto c = loadBotConfig(std::nullopt, envOf({{"ENABLE_MEMORY_OPTIMIZER", v}}));
    ASSERT_TRUE(c.ok()) << v;
    EXPECT_TRUE(c->optimizer) << v;
  }
}

TEST(ParseSize, AcceptsBinaryUnitsAndRejectsGarbage) {
  struct Case {
    const char* text;
    std::int64_t bytes;
  };
  for (const auto& [text, bytes] : {Case{"4096", 4096}, Case{"4KiB", 4096}, Case{"4k", 4096}, Case{"64MiB", 64LL << 20},
                                    Case{"1G", 1LL << 30}, Case{"12B", 12}}) {
    auto r = parseSize(text);
    ASSERT_TRUE(r.ok()) << text;
    EXPECT_EQ(*r, bytes) << text;
  }
  for (const char* bad : {"", "MiB", "-4", "4 MiB", "4TB", "4.5M"}) {
    auto r = parseSize(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(Workload, RejectsContradictoryOptions) {
  WorkloadConfig w;
  w.body_min = 5000;
  w.body_max = 100;
  auto r = validateWorkload(w);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("--body-min (5000) must be <= --body-max (100)"), std::string::npos);
  WorkloadConfig h;
  h.hang = h.ignore_commands = true;
  EXPECT_FALSE(validateWorkload(h).ok());
}

}  // namespace
}  // namespace memvisor::bot
