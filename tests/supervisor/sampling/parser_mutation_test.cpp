// Every parser on thousands of deterministic mutations of the captured files (truncations,
// flipped and inserted bytes): each returns a value or an Error with code and message, never
// crashes (run under the sanitize preset to catch out-of-bounds reads).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "memvisor/sampling/cgroup.hpp"
#include "memvisor/sampling/cgroup_memory.hpp"
#include "memvisor/sampling/meminfo.hpp"
#include "memvisor/sampling/pressure.hpp"
#include "memvisor/sampling/process_files.hpp"
#include "memvisor/sampling/process_tree.hpp"
#include "support/fixtures.hpp"

namespace memvisor::sampling {
namespace {

template <typename T>
void expectValueOrError(const Result<T>& r, const std::string& input) {
  if (!r.ok()) {
    EXPECT_FALSE(r.error().code.empty()) << input;
    EXPECT_FALSE(r.error().message.empty()) << input;
  }
}

void parseWithAll(const std::string& text) {
  expectValueOrError(parseStatm(text, 4096), text);
  expectValueOrError(parseStatus(text), text);
  expectValueOrError(parseStat(text), text);
  expectValueOrError(parseSmapsRollup(text), text);
  expectValueOrError(parseChildrenList(text), text);
  expectValueOrError(parseProcCgroup(text), text);
  expectValueOrError(parseV1MemoryStat(text), text);
  expectValueOrError(parseV2MemoryStat(text), text);
  expectValueOrError(parseV2MemoryEvents(text), text);
  expectValueOrError(parseV1OomControl(text), text);
  expectValueOrError(parseV1Limit(text), text);
  expectValueOrError(parseV2Limit(text), text);
  expectValueOrError(parsePressure(text), text);
  expectValueOrError(parseMeminfo(text), text);
  (void)parseMountInfo(text);
}

TEST(ParserMutation, ReturnsValueOrErrorOnMutatedCapturedFiles) {
  const std::string v1cg = std::string("v1_tree/sys/fs/cgroup/memory/") + testing::kV1CgroupRel;
  const std::vector<std::string> sources = {
      "v1_tree/proc/9798/stat", "v1_tree/proc/9798/status", "v1_tree/proc/9798/statm",
      "v1_tree/proc/9798/smaps_rollup", "v1_tree/proc/9756/cgroup", "v1_tree/proc/meminfo",
      "v1_tree/proc/pressure/memory", "v1_tree/proc/self/mountinfo", v1cg + "/memory.stat",
      v1cg + "/memory.oom_control",
      "v2_unified/sys/fs/cgroup/system.slice/bot.service/memory.stat",
      "v2_unified/sys/fs/cgroup/system.slice/bot.service/memory.events",
      "v2_unified/sys/fs/cgroup/system.slice/bot.service/memory.pressure"};
  std::mt19937 rng(20261125);  // fixed: the same mutations every run
  const std::string alphabet = ") (Z:\n\t 0123456789=-kBmax\0";
  for (const auto& rel : sources) {
    const std::string original = testing::slurp(testing::fixture(rel));
    ASSERT_FALSE(original.empty()) << rel;
    parseWithAll(original);
    for (int i = 0; i < 300; ++i) {
      std::string text = original;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !text.empty(); ++e) {
        std::size_t at = rng() % text.size();
        switch (rng() % 4) {
          case 0: text.resize(at); break;                                        // truncate
          case 1: text[at] = alphabet[rng() % alphabet.size()]; break;           // flip
          case 2: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;  // insert
          case 3: text.erase(at, 1 + rng() % 8); break;                          // cut
        }
      }
      parseWithAll(text);
      if (::testing::Test::HasFailure()) FAIL() << rel << " mutation " << i;
    }
  }
}

}  // namespace
}  // namespace memvisor::sampling
