// Metrics: the series memvisord exposes, read back through Registry::Collect().
#include "memvisor/daemon/metrics.hpp"

#include <gtest/gtest.h>

namespace memvisor::daemon {
namespace {

// The value of the series of `family` whose labels include all of `labels`; nullopt if none.
std::optional<double> valueOf(const Metrics& m, const std::string& family,
                              const std::map<std::string, std::string>& labels) {
  for (const auto& f : m.registry()->Collect()) {
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
  s.rss->Set(300.0 * 1024 * 1024);
  s.limit->Set(384.0 * 1024 * 1024);
  s.up->Set(1);
  s.restarts->Increment();
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
  EXPECT_FALSE(valueOf(m, "memvisor_freed_bytes_total", {{"bot", "amayo"}, {"action", "trim"}}));
}

TEST(Metrics, RemovesEveryOneOfABotsSeriesWhenTheBotGoesAway) {
  Metrics m;
  m.bot("gone").rss->Set(1);
  m.bot("stays").rss->Set(2);
  m.action("gone", "sweep", "ok", 10);
  m.removeBot("gone");
  for (const auto& f : m.registry()->Collect()) {
    for (const auto& metric : f.metric) {
      for (const auto& l : metric.label) {
        EXPECT_FALSE(l.name == "bot" && l.value == "gone") << f.name;
      }
    }
  }
  EXPECT_EQ(valueOf(m, "memvisor_bot_memory_bytes", {{"bot", "stays"}, {"figure", "rss"}}), 2.0);
}

}  // namespace
}  // namespace memvisor::daemon
