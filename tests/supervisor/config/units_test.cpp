// Sizes and durations: accepted spellings, refused bare numbers (the PM2 trap), formatting.
#include <gtest/gtest.h>

#include "memvisor/config/units.hpp"

namespace memvisor::config {
namespace {

TEST(ParseSize, AcceptsUnitsAsPowersOf1024) {
  struct Case {
    const char* text;
    Bytes bytes;
  } cases[] = {
      {"384MiB", 384 * kMiB}, {"512M", 512 * kMiB},   {"512MB", 512 * kMiB},
      {"1.5GiB", 3 * kGiB / 2}, {"1G", kGiB},       {"64k", 64 * kKiB},
      {"4096B", 4096},        {" 200 MiB ", 200 * kMiB}, {"2mib", 2 * kMiB},
  };
  for (const auto& c : cases) {
    auto r = parseSize(c.text, false);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message;
    EXPECT_FALSE(r->is_percent) << c.text;
    EXPECT_EQ(r->bytes, c.bytes) << c.text;
  }
}

TEST(ParseSize, RefusesBareNumberWithPm2Hint) {
  auto r = parseSize("300", false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_size");
  EXPECT_NE(r.error().message.find("300MiB"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("300B"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("PM2"), std::string::npos) << r.error().message;
}

TEST(ParseSize, AcceptsPercentOnlyWhereAllowed) {
  auto r = parseSize("80%", true);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_percent);
  EXPECT_DOUBLE_EQ(r->percent, 80.0);
  EXPECT_EQ(r->resolve(384 * kMiB), 307 * kMiB + 204 * kKiB + 819);  // floor(0.8 * 384 MiB)
  auto half = parseSize("12.5%", true);
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(half->resolve(800), 100);
  auto refused = parseSize("80%", false);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("percentage is not allowed"), std::string::npos);
}

TEST(ParseSize, RefusesGarbage) {
  for (const char* bad : {"", "MiB", "12XB", "-5MiB", "1.5B", "abc", "1..2M"}) {
    auto r = parseSize(bad, true);
    EXPECT_FALSE(r.ok()) << "accepted '" << bad << "'";
  }
}

TEST(ParseDuration, AcceptsUnitsAndCompounds) {
  using namespace std::chrono;
  struct Case {
    const char* text;
    Duration d;
  } cases[] = {
      {"300s", seconds(300)}, {"15m", minutes(15)},        {"500ms", milliseconds(500)},
      {"1h", hours(1)},       {"1h30m", minutes(90)},      {"1.5s", milliseconds(1500)},
      {"2d", hours(48)},      {"0s", Duration(0)},
  };
  for (const auto& c : cases) {
    auto r = parseDuration(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message;
    EXPECT_EQ(r->count(), c.d.count()) << c.text;
  }
}

TEST(ParseDuration, RefusesBareNumberWithHint) {
  auto r = parseDuration("300");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_duration");
  EXPECT_NE(r.error().message.find("300s"), std::string::npos) << r.error().message;
  for (const char* bad : {"", "s", "5x", "-1s", "5 fortnights"}) {
    EXPECT_FALSE(parseDuration(bad).ok()) << "accepted '" << bad << "'";
  }
}

TEST(FormatUnits, WritesShortReadableFigures) {
  EXPECT_EQ(formatBytes(384 * kMiB), "384 MiB");
  EXPECT_EQ(formatBytes(static_cast<Bytes>(307.2 * kMiB)), "307.2 MiB");
  EXPECT_EQ(formatBytes(12), "12 B");
  EXPECT_EQ(formatBytes(-2 * kMiB), "-2 MiB");
  EXPECT_EQ(formatBytes(3 * kGiB / 2), "1.5 GiB");
  using namespace std::chrono;
  EXPECT_EQ(formatDuration(minutes(15)), "15m");
  EXPECT_EQ(formatDuration(minutes(90)), "1h30m");
  EXPECT_EQ(formatDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(formatDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(formatDuration(Duration(0)), "0s");
  EXPECT_EQ(SizeSpec::percentOf(80).toString(), "80%");
}

TEST(FormatUnits, RoundTripsThroughTheParsers) {
  for (const char* d : {"15m", "1h30m", "500ms", "2d", "45s"}) {
    auto parsed = parseDuration(d);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(formatDuration(*parsed), d);
  }
}

}  // namespace
}  // namespace memvisor::config
