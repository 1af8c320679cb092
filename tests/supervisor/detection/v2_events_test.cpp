// inotify on a memory.events-like temp file: a write is seen, a deletion ends the watch.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <vector>

#include "memvisor/detection/v2_events.hpp"
#include "run_until.hpp"  // tests/support
#include "support/temp_tree.hpp"

namespace memvisor::detection {
namespace {

TEST(MemoryEventsWatcher, FiresWhenFileIsModifiedAndReportsDeletion) {
  testing::TempTree t;
  std::string path = t.write("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
  boost::asio::io_context io;
  std::vector<Event> events;
  auto watcher = MemoryEventsWatcher::create(io, path, [&](const Event& e) { events.push_back(e); });
  ASSERT_TRUE(watcher.ok()) << watcher.error().message;

  { std::ofstream(path, std::ios::trunc) << "low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n"; }
  ASSERT_TRUE(testing::runUntil(io, [&] { return !events.empty(); }));
  EXPECT_EQ(events[0].source, Source::kV2Events);
  EXPECT_EQ(events[0].path, path);
  EXPECT_FALSE(events[0].gone);

  std::filesystem::remove(path);
  ASSERT_TRUE(testing::runUntil(io, [&] { return !events.empty() && events.back().gone; }));
  (*watcher)->stop();
  io.run();
}

TEST(MemoryEventsWatcher, NeverCallsBackAfterStop) {
  testing::TempTree t;
  std::string path = t.write("memory.events", "oom_kill 0\n");
  boost::asio::io_context io;
  int calls = 0;
  auto watcher = MemoryEventsWatcher::create(io, path, [&](const Event&) { ++calls; });
  ASSERT_TRUE(watcher.ok());
  (*watcher)->stop();
  { std::ofstream(path, std::ios::trunc) << "oom_kill 1\n"; }
  io.run();
  EXPECT_EQ(calls, 0);
}

TEST(MemoryEventsWatcher, ReportsMissingFile) {
  boost::asio::io_context io;
  auto r = MemoryEventsWatcher::create(io, "/nonexistent/memory.events", [](const Event&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "enoent");
  EXPECT_EQ(r.error().message, "watching /nonexistent/memory.events: No such file or directory");
}

}  // namespace
}  // namespace memvisor::detection
