// Host figures: /proc/meminfo and PSI text, on captured files, hostile files and this machine.
#include <gtest/gtest.h>

#include "memvisor/sampling/meminfo.hpp"
#include "memvisor/sampling/pressure.hpp"
#include "support/fixtures.hpp"

namespace memvisor::sampling {
namespace {

using testing::fixture;
using testing::fixturePaths;
using testing::slurp;

TEST(ParseMeminfo, ReadsCapturedFile) {
  auto r = readMeminfo(fixturePaths("v1_tree"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->mem_total_bytes, 24684084ull * 1024);
  EXPECT_EQ(r->mem_free_bytes, 23815128ull * 1024);
  EXPECT_EQ(r->mem_available_bytes, 24199600ull * 1024);
  EXPECT_EQ(r->swap_total_bytes, 0u);
}

TEST(ParseMeminfo, RequiresMemAvailable) {
  auto r = parseMeminfo(slurp(fixture("hostile/text/meminfo_no_available")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "missing_field");
  EXPECT_EQ(r.error().message, "missing field MemAvailable in meminfo");
}

TEST(ParsePressure, ReadsSomeAndFull) {
  auto r = readHostMemoryPressure(fixturePaths("v2_unified"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_DOUBLE_EQ(r->some.avg10, 1.53);
  EXPECT_DOUBLE_EQ(r->some.avg60, 0.87);
  EXPECT_DOUBLE_EQ(r->some.avg300, 0.22);
  EXPECT_EQ(r->some.total_us, 4127331u);
  ASSERT_TRUE(r->full.has_value());
  EXPECT_DOUBLE_EQ(r->full->avg10, 0.41);
  EXPECT_EQ(r->full->total_us, 1093210u);
}

TEST(ParsePressure, AcceptsSomeOnlyAndRejectsTruncated) {
  auto some = parsePressure(slurp(fixture("hostile/text/pressure_some_only")));
  ASSERT_TRUE(some.ok());
  EXPECT_FALSE(some->full.has_value());
  auto truncated = parsePressure(slurp(fixture("hostile/text/pressure_truncated")));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code, "parse");
  auto empty = parsePressure("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, "missing_field");
  auto missing = parsePressure("some avg10=1.00 avg60=2.00 total=5\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "missing_field");
}

TEST(ReadHost, ReadsThisMachine) {
  auto r = readHost(SysPaths{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GT(r->meminfo.mem_total_bytes, 0u);
  EXPECT_GT(r->meminfo.mem_available_bytes, 0u);
  EXPECT_LE(r->meminfo.mem_available_bytes, r->meminfo.mem_total_bytes);
  if (!r->pressure) GTEST_SKIP() << "kernel without PSI (/proc/pressure/memory missing)";
  EXPECT_LE(r->pressure->some.avg10, 100.0);
}

TEST(ReadHost, SaysEnoentWithPathWithoutMeminfo) {
  auto r = readHost(fixturePaths("v1_oom"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "enoent");
  EXPECT_NE(r.error().message.find("v1_oom/proc/meminfo: No such file or directory"),
            std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace memvisor::sampling
