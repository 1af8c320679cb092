// The loader on damaged input: thousands of random mutations of a valid file must each load
// or fail with positioned messages, never crash or throw.
#include <gtest/gtest.h>

#include <random>

#include "memvisor/config/load.hpp"

namespace memvisor::config {
namespace {

constexpr const char* kSeed = R"(daemon:
  control_socket: /run/memvisor/ctl.sock
  journal: {format: json, max_size: 5MiB, keep: 2}
bots:
  - name: amayo
    profile: prod-optimized
    spawn: {command: [node, index.js], env: {CACHE_MESSAGES_LIMIT: 20}}
    thresholds:
      - {at: 70%, action: trim, for: 2 samples}
      - {at: 90%, action: compact, for: 10s, cooldown: 30s, min_freed: 1MiB}
    periodic: [{action: trim, every: 15m, above: 200MiB}]
    predictive: {horizon: 2m, window: 30s}
    hard_ceiling: 110%
  - name: side
    attach: {cmdline: "node .*side"}
    limit: 128MiB
)";

TEST(ConfigRobustness, SurvivesRandomMutationsOfAValidFile) {
  ASSERT_TRUE(loadConfigString(kSeed, "seed.yaml").ok());
  const std::string alphabet = " \n:-[]{}%,&*!|>#\"'0123456789abcMiBs\t";
  std::mt19937 rng(20261125);
  int ok = 0, failed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = kSeed;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t pos = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        default: text.erase(pos, 1 + rng() % 8); break;
      }
      if (text.empty()) text = "x";
    }
    Result<Config> r = Error{"", ""};
    ASSERT_NO_THROW(r = loadConfigString(text, "m.yaml")) << text;
    if (r.ok()) {
      ++ok;
      EXPECT_FALSE(r->bots.empty());
      EXPECT_FALSE(explainConfig(*r).empty());
    } else {
      ++failed;
      for (const auto& line : errorLines(r.error())) {
        ASSERT_EQ(line.rfind("m.yaml", 0), 0u) << line << "\n--- from ---\n" << text;
      }
    }
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(ok, 0);
}

}  // namespace
}  // namespace memvisor::config
