// V8's heap limit against memvisord's thresholds (issue 9): the profiles' NODE_OPTIONS, and
// --check-config's warning for a node bot that would die of "JavaScript heap out of memory"
// before memvisord acts.
#include "memvisor/config/node_heap.hpp"

#include <gtest/gtest.h>

#include "memvisor/config/load.hpp"

namespace memvisor::config {
namespace {

Config load(const std::string& yaml) {
  auto c = loadConfigString(yaml, "test.yaml");
  EXPECT_TRUE(c.ok()) << (c ? "" : c.error().message);
  return c ? *c : Config{};
}

TEST(NodeHeap, ProfilesSizeTheHeapFromTheLimit) {
  auto c = load("bots:\n  - name: amayo\n    profile: prod\n    spawn:\n      command: [node, --expose-gc, bot.js]\n");
  ASSERT_EQ(c.bots.size(), 1u);
  EXPECT_EQ(c.bots[0].spawn.env.at("NODE_OPTIONS"), "--max-old-space-size=384");
  EXPECT_EQ(expectedNodeHeapLimit(c.bots[0]), 384 * kMiB);
  EXPECT_TRUE(nodeHeapWarnings(c).empty());
}

TEST(NodeHeap, WarnsWhenNodeSizesItsHeapFromTheKernelLimit) {
  // The case: NODE_OPTIONS dropped, the prod profile's 480 MiB kernel limit: Node
  // gives itself about 259 MiB of heap, below compact (345.6 MiB) and restart (384 MiB).
  auto c = load("bots:\n  - name: amayo\n    profile: prod\n    spawn:\n      command: [/usr/bin/node, bot.js]\n"
                "      env:\n        NODE_OPTIONS:\n");
  ASSERT_EQ(c.bots.size(), 1u);
  EXPECT_FALSE(c.bots[0].spawn.env.count("NODE_OPTIONS"));
  EXPECT_EQ(expectedNodeHeapLimit(c.bots[0]), 259 * kMiB);
  const auto w = nodeHeapWarnings(c);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("bot amayo: node would get a V8 heap limit of about 259 MiB, below memvisord's restart at 384 MiB"),
            std::string::npos) << w[0];
  EXPECT_NE(w[0].find("NODE_OPTIONS: \"--max-old-space-size=384\""), std::string::npos) << w[0];
}

TEST(NodeHeap, AFlagOnTheCommandLineWinsAndOnlyNodeIsChecked) {
  auto c = load("bots:\n  - name: a\n    profile: prod\n    spawn:\n      command: [node, --max-old-space-size=200, bot.js]\n"
                "  - name: b\n    profile: prod\n    spawn:\n      command: [./memvisor-bot, --max-old-space-size=1]\n");
  EXPECT_EQ(expectedNodeHeapLimit(c.bots[0]), 200 * kMiB);
  const auto w = nodeHeapWarnings(c);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("bot a:"), std::string::npos);
  EXPECT_TRUE(isNodeCommand({"nodejs"}));
  EXPECT_FALSE(isNodeCommand({"/opt/nodex"}));
}

}  // namespace
}  // namespace memvisor::config
