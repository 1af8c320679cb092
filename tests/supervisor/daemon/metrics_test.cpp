// Metrics: the series memvisord exposes, read back through Metrics::collect().
#include "memvisor/daemon/metrics.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace memvisor::daemon {
namespace {

// The value of the series of `family` whose labels include all of `labels`; nullopt if none.
std::optional<double> valueOf(const Metrics& m, const std::string& family,
                              const std::map<std::string, std::string>& labels) {
  for (const auto& f : m.collect()) {
    if (f.name != family) continue;
    for (const auto& metric : f.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : metric.label) found = found || (l.name == k && l.value == v);
        match = match && found;
      }
      if (!match) continue;
      return f.type == prometheus::MetricType::Counter ? metric.counter.value : metric.gauge.value;
    }
  }
  return std::nullopt;
}

TEST(Metrics, ExposesABotsFiguresAndActionsUnderStableNames) {
  Metrics m;
  auto& s = m.bot("amayo");
  m.figure("amayo", Metrics::Figure::kRss, 300.0 * 1024 * 1024);
  m.set(s, Series::kLimit, 384.0 * 1024 * 1024);
  m.set(s, Series::kUp, 1);
  m.add(s, Series::kRestarts, 1);
  m.action("amayo", "compact", "ok", 200 << 20);
  m.action("amayo", "compact", "ok", 50 << 20);
  m.action("amayo", "trim", "timeout", 0);
  EXPECT_EQ(valueOf(m, "memvisor_bot_memory_bytes", {{"bot", "amayo"}, {"figure", "rss"}}),
            300.0 * 1024 * 1024);
  EXPECT_EQ(valueOf(m, "memvisor_bot_limit_bytes", {{"bot", "amayo"}}), 384.0 * 1024 * 1024);
  EXPECT_EQ(valueOf(m, "memvisor_bot_restarts_total", {{"bot", "amayo"}}), 1.0);
  EXPECT_EQ(valueOf(m, "memvisor_actions_total",
                    {{"bot", "amayo"}, {"action", "compact"}, {"result", "ok"}}),
            2.0);
  EXPECT_EQ(valueOf(m, "memvisor_actions_total",
                    {{"bot", "amayo"}, {"action", "trim"}, {"result", "timeout"}}),
            1.0);
  EXPECT_EQ(valueOf(m, "memvisor_freed_bytes_total", {{"bot", "amayo"}, {"action", "compact"}}),
            250.0 * 1024 * 1024);
  // Nothing freed by a timed-out trim.
  EXPECT_EQ(valueOf(m, "memvisor_freed_bytes_total", {{"bot", "amayo"}, {"action", "trim"}}), 0.0);
}

// Unknown is not zero: a bot whose cgroup memvisord cannot see has no cgroup or working_set
// series at all. Counters, though, exist at 0 from the start, so that increase() and rate()
// see the first event (a series born at 1 looks like no change to Prometheus).
TEST(Metrics, LeavesUnknownFiguresOutAndStartsEveryCounterAtZero) {
  Metrics m;
  m.bot("amayo");
  for (const char* f : {"rss", "pss", "working_set", "cgroup"}) {
    EXPECT_FALSE(valueOf(m, "memvisor_bot_memory_bytes", {{"bot", "amayo"}, {"figure", f}})) << f;
  }
  EXPECT_EQ(valueOf(m, "memvisor_bot_restarts_total", {{"bot", "amayo"}}), 0.0);
  EXPECT_EQ(valueOf(m, "memvisor_bot_oom_kills_total", {{"bot", "amayo"}}), 0.0);
  for (const char* a : {"trim", "sweep", "compact", "restart"}) {
    EXPECT_EQ(valueOf(m, "memvisor_actions_total", {{"bot", "amayo"}, {"action", a}, {"result", "ok"}}),
              0.0) << a;
  }
  for (const char* a : {"trim", "sweep", "compact"}) {
    EXPECT_EQ(valueOf(m, "memvisor_freed_bytes_total", {{"bot", "amayo"}, {"action", a}}), 0.0) << a;
  }

  m.figure("amayo", Metrics::Figure::kRss, 100);
  m.figure("amayo", Metrics::Figure::kCgroup, 120);
  EXPECT_EQ(valueOf(m, "memvisor_bot_memory_bytes", {{"bot", "amayo"}, {"figure", "cgroup"}}), 120.0);
  EXPECT_FALSE(valueOf(m, "memvisor_bot_memory_bytes", {{"bot", "amayo"}, {"figure", "working_set"}}));
  // The cgroup became unreadable: its series goes, rss stays.
  m.figure("amayo", Metrics::Figure::kCgroup, std::nullopt);
  EXPECT_FALSE(valueOf(m, "memvisor_bot_memory_bytes", {{"bot", "amayo"}, {"figure", "cgroup"}}));
  EXPECT_EQ(valueOf(m, "memvisor_bot_memory_bytes", {{"bot", "amayo"}, {"figure", "rss"}}), 100.0);
}

TEST(Metrics, ExposesEachThresholdActionsLowestStartAndReplacesThemOnChange) {
  Metrics m;
  m.thresholds("amayo", {{"trim", 100}, {"sweep", 200}, {"trim", 50}});
  EXPECT_EQ(valueOf(m, "memvisor_bot_threshold_bytes", {{"bot", "amayo"}, {"action", "trim"}}), 50.0);
  EXPECT_EQ(valueOf(m, "memvisor_bot_threshold_bytes", {{"bot", "amayo"}, {"action", "sweep"}}), 200.0);
  m.thresholds("amayo", {{"compact", 300}});
  EXPECT_FALSE(valueOf(m, "memvisor_bot_threshold_bytes", {{"bot", "amayo"}, {"action", "trim"}}));
  EXPECT_EQ(valueOf(m, "memvisor_bot_threshold_bytes", {{"bot", "amayo"}, {"action", "compact"}}), 300.0);
}

TEST(Metrics, RemovesEveryOneOfABotsSeriesWhenTheBotGoesAway) {
  Metrics m;
  m.figure("gone", Metrics::Figure::kRss, 1);
  m.figure("gone", Metrics::Figure::kPss, 1);
  m.figure("stays", Metrics::Figure::kRss, 2);
  m.action("gone", "sweep", "ok", 10);
  m.thresholds("gone", {{"trim", 1}});
  m.removeBot("gone");
  for (const auto& f : m.collect()) {
    for (const auto& metric : f.metric) {
      for (const auto& l : metric.label) {
        EXPECT_FALSE(l.name == "bot" && l.value == "gone") << f.name;
      }
    }
  }
  EXPECT_EQ(valueOf(m, "memvisor_bot_memory_bytes", {{"bot", "stays"}, {"figure", "rss"}}), 2.0);
}

// memvisord's one place with threads besides the io_context: prometheus-cpp's Exposer
// collects the series table on its HTTP threads while the event loop sets series and adds and
// removes bots. Run by the tsan preset (ctest tsan_daemon_threads) to catch any race.
TEST(Metrics, CanBeCollectedFromAnotherThreadWhileTheLoopUpdatesAndRemovesBots) {
  Metrics m;
  std::atomic<bool> stop{false};
  std::atomic<int> scrapes{0};
  std::thread scraper([&] {
    while (!stop.load()) {
      for (const auto& f : m.collect()) (void)f.metric.size();
      scrapes.fetch_add(1);
    }
  });
  for (int i = 0; i < 2000; ++i) {
    const std::string name = "bot" + std::to_string(i % 7);
    auto& s = m.bot(name);
    m.figure(name, Metrics::Figure::kRss, i);  // figures are created when first known
    m.set(s, Series::kUp, i % 2);
    m.add(s, Series::kRestarts, 1);
    m.action(name, "trim", "ok", i);
    if (i % 5 == 0) m.removeBot(name);
    if (i % 200 == 0) {
      while (scrapes.load() < i / 200) std::this_thread::yield();  // interleave for real
    }
  }
  stop = true;
  scraper.join();
  EXPECT_GT(scrapes.load(), 0);
  EXPECT_EQ(valueOf(m, "memvisor_bot_memory_bytes", {{"bot", "bot6"}, {"figure", "rss"}}), 1994.0);  // its last update
}

}  // namespace
}  // namespace memvisor::daemon
