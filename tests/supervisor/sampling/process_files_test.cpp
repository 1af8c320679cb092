// /proc/PID/{statm,status,stat,smaps_rollup} parsers on captured and hostile fixtures, and the
// kept-fd StatmReader on real processes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memvisor/sampling/process_files.hpp"
#include "support/child_process.hpp"
#include "support/fixtures.hpp"

namespace memvisor::sampling {
namespace {

using testing::fixture;
using testing::fixturePaths;
using testing::kV1Bot;
using testing::kV1Worker;
using testing::slurp;

constexpr std::uint64_t kKiB = 1024;

TEST(ParseStatm, ReadsThreeFieldsInPages) {
  struct Case {
    const char* text;
    bool ok;
    std::uint64_t size, resident, shared;
  } cases[] = {
      {"20524 19763 1658 1 0 18402 0\n", true, 20524 * 4096ull, 19763 * 4096ull, 1658 * 4096ull},
      {"1 2 3", true, 4096, 8192, 12288},
      {"0 0 0 0 0 0 0\n", true, 0, 0, 0},
      {"20524 ", false, 0, 0, 0},  // truncated read
      {"", false, 0, 0, 0},
      {"12 x 3", false, 0, 0, 0},
      {"-1 2 3", false, 0, 0, 0},
  };
  for (const auto& c : cases) {
    auto r = parseStatm(c.text, 4096);
    ASSERT_EQ(r.ok(), c.ok) << c.text;
    if (!c.ok) {
      EXPECT_EQ(r.error().code, "parse") << c.text;
      continue;
    }
    EXPECT_EQ(r->size_bytes, c.size);
    EXPECT_EQ(r->resident_bytes, c.resident);
    EXPECT_EQ(r->shared_bytes, c.shared);
  }
}

TEST(ReadStatm, ReadsCapturedProcess) {
  auto r = readStatm(fixturePaths("v1_tree"), kV1Bot);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->resident_bytes, 19763 * pageSize());
}

TEST(ReadStatm, SaysGoneWithPathWhenPidDoesNotExist) {
  auto paths = fixturePaths("hostile");
  for (int pid : {502, 999999}) {  // 502: listed, then vanished (empty dir)
    auto r = readStatm(paths, pid);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "gone");
    EXPECT_EQ(r.error().message, "reading " + paths.proc_root + "/" + std::to_string(pid) +
                                     "/statm: No such file or directory");
  }
}

TEST(ReadStatm, FailsWithContextOnTruncatedFile) {
  auto r = readStatm(fixturePaths("hostile"), 503);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "parse");
  EXPECT_NE(r.error().message.find("503/statm: statm: field 2"), std::string::npos)
      << r.error().message;
}

TEST(ParseStatus, ReadsMemoryBreakdownOfCapturedWorker) {
  auto r = readStatus(fixturePaths("v1_tree"), kV1Worker);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->name, "wk) Z 1 (x y");
  EXPECT_EQ(r->ppid, kV1Bot);
  EXPECT_EQ(r->vm_rss_bytes, 108912 * kKiB);
  EXPECT_EQ(r->rss_anon_bytes, 105192 * kKiB);
  EXPECT_EQ(r->rss_file_bytes, 3720 * kKiB);
  EXPECT_EQ(r->rss_shmem_bytes, 0u);
  EXPECT_EQ(r->vm_swap_bytes, 0u);
}

TEST(ParseStatus, LeavesMemoryFieldsEmptyForZombieAndTruncatedFiles) {
  auto paths = fixturePaths("hostile");
  auto zombie = readStatus(paths, 501);  // a real zombie's status has no Vm*/Rss* lines
  ASSERT_TRUE(zombie.ok()) << zombie.error().message;
  EXPECT_EQ(zombie->ppid, 500);
  EXPECT_FALSE(zombie->vm_rss_bytes.has_value());
  EXPECT_FALSE(zombie->rss_anon_bytes.has_value());

  auto truncated = readStatus(paths, 503);  // cut in the middle of "VmHWM:"
  ASSERT_TRUE(truncated.ok()) << truncated.error().message;
  EXPECT_EQ(truncated->name, "wk) Z 1 (x y");
  EXPECT_FALSE(truncated->vm_rss_bytes.has_value());
}

TEST(ParseStatus, RejectsMalformedNumber) {
  auto r = parseStatus("Name:\tbot\nVmRSS:\t  12x4 kB\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "parse");
  EXPECT_EQ(r.error().message, "status: bad VmRSS");
}

TEST(ParseStat, FindsCommEndAtLastParenthesis) {
  struct Case {
    std::string text;
    std::string comm;
    char state;
    int ppid;
  } cases[] = {
      // Captured: a process that named itself "wk) Z 1 (x y" (tests/fixtures/v1_tree).
      {slurp(fixture("v1_tree/proc/9798/stat")), "wk) Z 1 (x y", 'S', kV1Bot},
      {slurp(fixture("hostile/proc/500/stat")), "bot) Z 1 (evil", 'S', 1},
      {slurp(fixture("hostile/proc/501/stat")), "python3", 'Z', 500},
      {"7 ()) S 3 4 5", ")", 'S', 3},
      {"8 (a b) R 0", "a b", 'R', 0},
  };
  for (const auto& c : cases) {
    auto r = parseStat(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message;
    EXPECT_EQ(r->comm, c.comm);
    EXPECT_EQ(r->state, c.state);
    EXPECT_EQ(r->ppid, c.ppid);
  }
}

TEST(ParseStat, ReadsStartTime) {
  auto r = readStat(fixturePaths("v1_tree"), kV1Bot);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->pid, kV1Bot);
  EXPECT_EQ(r->start_time_ticks, 66634u);
}

TEST(ParseStat, RejectsBrokenLines) {
  for (const char* text : {"", "12 bot S 1", "12 (bot)", "12 (bot) S", "x (bot) S 1", "12 (bot) SS 1"}) {
    auto r = parseStat(text);
    EXPECT_FALSE(r.ok()) << text;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, "parse") << text;
    }
  }
}

TEST(ParseSmapsRollup, ReadsPssAndUss) {
  auto r = readSmapsRollup(fixturePaths("v1_tree"), kV1Worker);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->rss_bytes, 108912 * kKiB);
  EXPECT_EQ(r->pss_bytes, 70869 * kKiB);
  EXPECT_EQ(r->ussBytes(), (20 + 33720) * kKiB);
  EXPECT_EQ(r->swap_bytes, 0u);
}

TEST(ParseSmapsRollup, ReportsMissingPssWhenTruncatedOrEmpty) {
  auto truncated = readSmapsRollup(fixturePaths("hostile"), 503);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code, "missing_field");
  EXPECT_NE(truncated.error().message.find("503/smaps_rollup: missing field Pss"),
            std::string::npos)
      << truncated.error().message;
  auto empty = parseSmapsRollup("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, "missing_field");
}

TEST(StatmReader, MatchesReadStatmOnFixture) {
  auto paths = fixturePaths("v1_tree");
  auto reader = StatmReader::open(paths, kV1Bot);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  auto a = reader->read();
  auto b = reader->read();  // pread from offset 0 again, not EOF
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->resident_bytes, 19763 * pageSize());
  EXPECT_EQ(b->resident_bytes, a->resident_bytes);
}

TEST(StatmReader, SaysGoneOnceTheProcessExits) {
  SysPaths paths;
  auto child = std::make_unique<testing::AllocatorChild>();
  ASSERT_TRUE(child->grow(1));
  auto reader = StatmReader::open(paths, child->pid());
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  ASSERT_TRUE(reader->read().ok());
  ::kill(child->pid(), SIGKILL);
  child->reap();
  auto after = reader->read();
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, "gone") << after.error().message;
}

TEST(StatmReader, OpenSaysGoneForMissingPid) {
  auto r = StatmReader::open(fixturePaths("hostile"), 502);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "gone");
}

}  // namespace
}  // namespace memvisor::sampling
