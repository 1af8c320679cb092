// deploy/CONFIG.md is generated from the key table; it must not drift from it, and the
// validator must accept exactly the keys the reference documents.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "memvisor/config/keys.hpp"
#include "memvisor/config/load.hpp"

namespace memvisor::config {
namespace {

TEST(ConfigReference, DeployConfigMdIsTheGeneratedReference) {
  std::ifstream in(MEMVISOR_DEPLOY_DIR "/CONFIG.md");
  ASSERT_TRUE(in) << "deploy/CONFIG.md is missing";
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), configReference())
      << "deploy/CONFIG.md is stale: regenerate it with\n"
         "  build/ci/supervisor/memvisord/memvisord --config-reference > deploy/CONFIG.md";
}

TEST(ConfigReference, EveryBotKeyHasADefaultAndEachProfilesValue) {
  const std::string ref = configReference();
  for (const auto& s : configSections()) {
    for (const auto& k : s.keys) {
      EXPECT_NE(ref.find("| `" + k.key + "` |"), std::string::npos) << s.path << "." << k.key;
    }
  }
  EXPECT_NE(ref.find("| `limit` | size | >= 1 MiB | (required) | 384 MiB | 192 MiB | 384 MiB | 512 MiB |"),
            std::string::npos);
}

TEST(ConfigReference, TheValidatorRejectsAKeyTheTableDoesNotHave) {
  auto r = loadConfigString("bots:\n  - name: a\n    limit: 64MiB\n    spawn: {command: [x]}\n"
                            "    deadlines: {trim: 1s, nonsense: 2s}\n",
                            "memvisor.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("deadlines.nonsense: unknown key"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace memvisor::config
