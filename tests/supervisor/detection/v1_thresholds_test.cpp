// cgroup v1 memory thresholds for real: a child process in a test-created child cgroup
// allocates past the thresholds and the eventfds fire.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <vector>

#include "memvisor/detection/v1_thresholds.hpp"
#include "run_until.hpp"  // tests/support
#include "support/child_process.hpp"
#include "support/v1_test_cgroup.hpp"

namespace memvisor::detection {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

TEST(V1ThresholdWatcher, FiresForEachThresholdAChildAllocatesPast) {
  testing::V1TestCgroup cgroup;
  if (!cgroup.ok()) GTEST_SKIP() << cgroup.reason();
  ASSERT_TRUE(cgroup.setLimit(512 * kMiB));
  testing::AllocatorChild child;
  ASSERT_TRUE(cgroup.addProcess(child.pid()));
  ASSERT_TRUE(child.grow(2));
  const std::uint64_t base = cgroup.usage();
  const std::uint64_t low = base + 16 * kMiB, high = base + 48 * kMiB;

  boost::asio::io_context io;
  std::vector<Event> events;
  auto watcher = V1ThresholdWatcher::create(io, cgroup.dir(), {high, low, low},
                                            [&](const Event& e) { events.push_back(e); });
  ASSERT_TRUE(watcher.ok()) << watcher.error().message;
  EXPECT_EQ((*watcher)->armedCount(), 2u);  // duplicates dropped

  ASSERT_TRUE(child.grow(24));  // past `low` only
  ASSERT_TRUE(testing::runUntil(io, [&] { return !events.empty(); }))
      << "no event after usage rose from " << base << " to " << cgroup.usage();
  EXPECT_EQ(events[0].source, Source::kV1Threshold);
  EXPECT_EQ(events[0].threshold_bytes, low);
  EXPECT_EQ(events[0].path, cgroup.dir() + "/memory.usage_in_bytes");
  EXPECT_FALSE(events[0].gone);

  ASSERT_TRUE(child.grow(32));  // past `high`
  ASSERT_TRUE(testing::runUntil(io, [&] {
    return std::any_of(events.begin(), events.end(),
                       [&](const Event& e) { return e.threshold_bytes == high; });
  })) << "usage " << cgroup.usage() << " high " << high;

  // Removing the group signals every eventfd one last time: reported as gone.
  ::kill(child.pid(), SIGKILL);
  child.reap();
  cgroup.removeNow();
  ASSERT_TRUE(cgroup.dir().empty()) << "rmdir failed";
  ASSERT_TRUE(testing::runUntil(io, [&] {
    return std::any_of(events.begin(), events.end(), [](const Event& e) { return e.gone; });
  }));
  (*watcher)->stop();
}

TEST(V1ThresholdWatcher, NeverCallsBackAfterStop) {
  testing::V1TestCgroup cgroup;
  if (!cgroup.ok()) GTEST_SKIP() << cgroup.reason();
  testing::AllocatorChild child;
  ASSERT_TRUE(cgroup.addProcess(child.pid()));
  const std::uint64_t threshold = cgroup.usage() + 8 * kMiB;
  boost::asio::io_context io;
  int calls = 0;
  auto watcher = V1ThresholdWatcher::create(io, cgroup.dir(), {threshold},
                                            [&](const Event&) { ++calls; });
  ASSERT_TRUE(watcher.ok()) << watcher.error().message;
  (*watcher)->stop();
  ASSERT_TRUE(child.grow(16));
  ASSERT_GT(cgroup.usage(), threshold);
  io.run();  // returns once the aborted reads complete: the eventfds are closed
  EXPECT_EQ(calls, 0);
  ::kill(child.pid(), SIGKILL);
  child.reap();
}

TEST(V1ThresholdWatcher, ReportsMissingGroupAndEmptyThresholds) {
  boost::asio::io_context io;
  auto missing = V1ThresholdWatcher::create(io, "/nonexistent/cg", {1 << 20}, [](const Event&) {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "enoent");
  EXPECT_EQ(missing.error().message,
            "opening /nonexistent/cg/cgroup.event_control: No such file or directory");
  auto none = V1ThresholdWatcher::create(io, "/nonexistent/cg", {0}, [](const Event&) {});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, "invalid");
}

}  // namespace
}  // namespace memvisor::detection
