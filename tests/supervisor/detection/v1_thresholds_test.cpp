// cgroup v1 memory thresholds for real: a child process in a test-created child cgroup
// allocates past the thresholds and the eventfds fire.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "memvisor/detection/v1_thresholds.hpp"
#include "run_until.hpp"  // tests/support
#include "support/child_process.hpp"
#include "support/v1_test_cgroup.hpp"

namespace memvisor::detection {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

// A test-created group with an allocating child in it. Members end in reverse order: the
// child is killed and reaped (its destructor) before the group is removed.
struct GroupWithChild {
  testing::V1TestCgroup cgroup;
  testing::AllocatorChild child;
  bool joined = cgroup.ok() && cgroup.addProcess(child.pid());
  std::uint64_t threshold = joined ? cgroup.usage() + 8 * kMiB : 0;  // 8 MiB above usage
};

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
  GroupWithChild g;
  if (!g.cgroup.ok()) GTEST_SKIP() << g.cgroup.reason();
  ASSERT_TRUE(g.joined);
  auto& [cgroup, child, joined, threshold] = g;
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
}

TEST(V1ThresholdWatcher, OnARegistrarArmsOffTheLoopThenFires) {
  GroupWithChild g;
  if (!g.cgroup.ok()) GTEST_SKIP() << g.cgroup.reason();
  ASSERT_TRUE(g.joined);
  auto& [cgroup, child, joined, threshold] = g;
  boost::asio::io_context io;
  ThresholdRegistrar registrar(4);
  std::vector<Event> events;
  std::optional<Result<void>> armed;
  auto watcher = V1ThresholdWatcher::create(
      io, cgroup.dir(), {threshold}, [&](const Event& e) { events.push_back(e); }, &registrar,
      [&](const Result<void>& r) { armed = r; });
  ASSERT_TRUE(watcher.ok()) << watcher.error().message;
  // The outcome comes back through the loop, never on the registrar's thread.
  EXPECT_FALSE((*watcher)->armed());
  ASSERT_TRUE(testing::runUntil(io, [&] { return armed.has_value(); }));
  ASSERT_TRUE(armed->ok()) << armed->error().message;
  EXPECT_TRUE((*watcher)->armed());
  ASSERT_TRUE(child.grow(16));
  ASSERT_TRUE(testing::runUntil(io, [&] { return !events.empty(); }))
      << "usage " << cgroup.usage() << " threshold " << threshold;
  EXPECT_EQ(events[0].threshold_bytes, threshold);
  (*watcher)->stop();
}

TEST(V1ThresholdWatcher, StoppedBeforeItsRegistrationIsWrittenStaysSilent) {
  GroupWithChild g;
  if (!g.cgroup.ok()) GTEST_SKIP() << g.cgroup.reason();
  ASSERT_TRUE(g.joined);
  auto& [cgroup, child, joined, threshold] = g;
  boost::asio::io_context io;
  int calls = 0, armed_calls = 0;
  {
    ThresholdRegistrar registrar(1);
    auto watcher = V1ThresholdWatcher::create(
        io, cgroup.dir(), {threshold}, [&](const Event&) { ++calls; }, &registrar,
        [&](const Result<void>&) { ++armed_calls; });
    ASSERT_TRUE(watcher.ok()) << watcher.error().message;
    (*watcher)->stop();  // the job may still register: its eventfds close when it finds that
  }  // the registrar's threads are joined: every job ran or was dropped
  ASSERT_TRUE(child.grow(16));
  ASSERT_GT(cgroup.usage(), threshold);
  io.run();
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(armed_calls, 0);
}

TEST(ThresholdRegistrar, RunsJobsOnAtMostItsThreadsWhichExitWhenIdle) {
  std::mutex mu;
  std::condition_variable cv;
  int running = 0, max_running = 0, done = 0;
  bool release = false;
  {
    ThresholdRegistrar registrar(3, std::chrono::milliseconds(50));
    for (int i = 0; i < 8; ++i) {
      registrar.submit([&] {
        std::unique_lock lock(mu);
        max_running = std::max(max_running, ++running);
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
        --running;
        ++done;
        cv.notify_all();
      });
    }
    {
      std::unique_lock lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return running == 3; }));
      release = true;
      cv.notify_all();
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done == 8; }));
    }
    EXPECT_EQ(max_running, 3);
    // Idle threads exit (50 ms here); a later job starts one again.
    for (int i = 0; i < 200 && registrar.threads() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(registrar.threads(), 0u);
    std::atomic<bool> ran{false};
    registrar.submit([&] { ran = true; });
    for (int i = 0; i < 500 && !ran; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(ran);
  }
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
