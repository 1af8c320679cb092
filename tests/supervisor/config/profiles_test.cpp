// The built-in profiles carry the seed's variables and a sane ladder, and a bot can override
// them key by key.
#include <gtest/gtest.h>

#include "memvisor/config/load.hpp"
#include "memvisor/config/profiles.hpp"

namespace memvisor::config {
namespace {

using namespace std::chrono;

TEST(Profiles, CarryTheSeedVariables) {
  struct Case {
    const char* name;
    Bytes limit;
    const char* messages;
    const char* members;
    const char* sweep_interval;
    const char* log_interval;
    const char* optimizer;
  } cases[] = {
      {"standard", 384 * kMiB, "50", "100", "300", "120", "false"},
      {"ultra", 192 * kMiB, "10", "25", "120", "60", "false"},
      {"prod", 384 * kMiB, "50", "100", "300", "120", "false"},
      {"prod-optimized", 512 * kMiB, "50", "100", "300", "120", "true"},
  };
  ASSERT_EQ(builtinProfiles().size(), 4u);
  for (const auto& c : cases) {
    const Profile* p = findProfile(c.name);
    ASSERT_NE(p, nullptr) << c.name;
    EXPECT_EQ(p->policy.limit, c.limit) << c.name;
    EXPECT_EQ(p->env.at("CACHE_MESSAGES_LIMIT"), c.messages) << c.name;
    EXPECT_EQ(p->env.at("CACHE_MEMBERS_LIMIT"), c.members) << c.name;
    EXPECT_EQ(p->env.at("SWEEP_MESSAGES_INTERVAL_SECONDS"), c.sweep_interval) << c.name;
    EXPECT_TRUE(p->env.count("SWEEP_MESSAGES_LIFETIME_SECONDS")) << c.name;
    EXPECT_EQ(p->env.at("MEMORY_LOG_INTERVAL_SECONDS"), c.log_interval) << c.name;
    EXPECT_EQ(p->env.at("ENABLE_MEMORY_OPTIMIZER"), c.optimizer) << c.name;
  }
  EXPECT_EQ(findProfile("standard")->env.at("SWEEP_MESSAGES_LIFETIME_SECONDS"), "900");
  EXPECT_EQ(findProfile("nope"), nullptr);
}

TEST(Profiles, ProdOptimizedTrimsEvery15MinutesAndAbove200MiB) {
  const Profile* p = findProfile("prod-optimized");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->policy.periodic.size(), 1u);
  EXPECT_EQ(p->policy.periodic[0].action, ActionKind::kTrim);
  EXPECT_EQ(p->policy.periodic[0].every, minutes(15));
  ASSERT_FALSE(p->policy.thresholds.empty());
  EXPECT_EQ(p->policy.thresholds[0].at, SizeSpec::absolute(200 * kMiB));
  EXPECT_EQ(p->policy.thresholds[0].action, ActionKind::kTrim);
}

TEST(Profiles, UseTheGradedLadderBelowTheCeilingAndKernelLimit) {
  for (const auto& p : builtinProfiles()) {
    const auto& pol = p.policy;
    std::vector<ActionKind> ladder;
    Bytes prev = 0;
    for (const auto& t : pol.thresholds) {
      const Bytes at = t.at.resolve(pol.limit);
      EXPECT_GT(at, prev) << p.name << ": thresholds must ascend";
      prev = at;
      if (t.at.is_percent) ladder.push_back(t.action);
    }
    EXPECT_EQ(ladder, (std::vector<ActionKind>{ActionKind::kTrim, ActionKind::kSweep,
                                               ActionKind::kCompact, ActionKind::kRestart}))
        << p.name;
    EXPECT_EQ(pol.thresholds.back().at.resolve(pol.limit), pol.limit) << p.name;
    ASSERT_TRUE(pol.hard_ceiling.has_value()) << p.name;
    ASSERT_TRUE(p.kernel_limit_margin.has_value()) << p.name;
    EXPECT_GT(pol.limit + p.kernel_limit_margin->resolve(pol.limit), pol.hard_ceiling->resolve(pol.limit))
        << p.name << ": the kernel must stay the backstop, above the hard ceiling";
  }
}

TEST(Profiles, LoadThroughTheConfigAsIs) {
  for (const auto& p : builtinProfiles()) {
    const std::string yaml = "bots:\n  - name: b\n    profile: " + p.name + "\n    spawn: {command: [x]}\n";
    auto r = loadConfigString(yaml, p.name + ".yaml");
    ASSERT_TRUE(r.ok()) << p.name << ": " << r.error().message;
    EXPECT_EQ(r->bots[0].policy, p.policy) << p.name;
    auto env = p.env;
    env["MEMORY_LIMIT_MB"] = std::to_string(p.policy.limit / kMiB);
    // V8's heap limit follows the limit (node_heap.hpp), not Node's default from the cgroup.
    EXPECT_EQ(env.at("NODE_OPTIONS"), "--max-old-space-size=" + std::to_string(p.policy.limit / kMiB));
    EXPECT_EQ(r->bots[0].spawn.env, env) << p.name;
    EXPECT_EQ(r->bots[0].profile, p.name);
  }
}

TEST(Profiles, AreOverriddenKeyByKey) {
  auto r = loadConfigString(R"(bots:
  - name: b
    profile: prod-optimized
    limit: 600MiB
    periodic: []
    spawn:
      command: [x]
      env: {CACHE_MEMBERS_LIMIT: 10}
)", "o.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& b = r->bots[0];
  const Profile* p = findProfile("prod-optimized");
  EXPECT_EQ(b.policy.limit, 600 * kMiB);
  EXPECT_TRUE(b.policy.periodic.empty());
  EXPECT_EQ(b.policy.thresholds, p->policy.thresholds);  // kept, now resolved against 600 MiB
  EXPECT_EQ(b.policy.thresholds[1].at.resolve(b.policy.limit), 420 * kMiB);
  EXPECT_EQ(b.spawn.env.at("CACHE_MEMBERS_LIMIT"), "10");
  EXPECT_EQ(b.spawn.env.at("ENABLE_MEMORY_OPTIMIZER"), "true");
  EXPECT_EQ(b.spawn.env.at("MEMORY_OPTIMIZER_INTERVAL_SECONDS"), "900");
  EXPECT_EQ(b.spawn.env.at("MEMORY_LIMIT_MB"), "600");  // follows the overridden limit
  EXPECT_EQ(b.spawn.env.at("NODE_OPTIONS"), "--max-old-space-size=600");  // V8 heap follows too
}

TEST(Profiles, LeaveAnExplicitMemoryLimitMbAlone) {
  auto r = loadConfigString(
      "bots:\n  - name: b\n    profile: prod\n    spawn: {command: [x], env: {MEMORY_LIMIT_MB: 300}}\n"
      "  - name: c\n    profile: prod\n    attach: {connect: true}\n",
      "m.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->bots[0].spawn.env.at("MEMORY_LIMIT_MB"), "300");
  EXPECT_EQ(r->bots[1].spawn.env.count("MEMORY_LIMIT_MB"), 0u);  // attach: nothing is spawned
}

}  // namespace
}  // namespace memvisor::config
