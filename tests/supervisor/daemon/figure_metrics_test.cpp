// FigureMetrics: a bot's own figures, liveness and alert series, read back through
// SeriesTable::Collect(). Unknown figures have no series (never a 0 that looks measured).
#include "memvisor/daemon/figure_metrics.hpp"

#include <gtest/gtest.h>

namespace memvisor::daemon {
namespace {

std::optional<double> valueOf(const SeriesTable& r, const std::string& family,
                              const std::map<std::string, std::string>& labels) {
  for (const auto& f : r.Collect()) {
    if (f.name != family) continue;
    for (const auto& metric : f.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : metric.label) found = found || (l.name == k && l.value == v);
        match = match && found;
      }
      if (match) {
        return f.type == prometheus::MetricType::Counter ? metric.counter.value : metric.gauge.value;
      }
    }
  }
  return std::nullopt;
}

proto::Stats sample() {
  proto::Stats s;
  s.mem.heap_used_bytes = 90 << 20;
  s.mem.heap_total_bytes = 110 << 20;
  s.mem.external_bytes = 8 << 20;
  s.event_loop_lag_ms = 2.5;
  s.caches = {{"messages", 2500}, {"members", 100}};
  return s;
}

TEST(FigureMetrics, NoStatsNoSeriesThenEveryFigureTheBotSends) {
  SeriesTable r;
  FigureMetrics m(r);
  const std::map<std::string, std::string> bot{{"bot", "amayo"}};
  EXPECT_FALSE(valueOf(r, "memvisor_bot_heap_used_bytes", bot));
  EXPECT_FALSE(valueOf(r, "memvisor_bot_stats_stale", bot));
  m.stats("amayo", sample());
  EXPECT_EQ(valueOf(r, "memvisor_bot_heap_used_bytes", bot), 90.0 * (1 << 20));
  EXPECT_EQ(valueOf(r, "memvisor_bot_heap_total_bytes", bot), 110.0 * (1 << 20));
  EXPECT_EQ(valueOf(r, "memvisor_bot_external_bytes", bot), 8.0 * (1 << 20));
  EXPECT_EQ(valueOf(r, "memvisor_bot_event_loop_lag_seconds", bot), 0.0025);
  EXPECT_EQ(valueOf(r, "memvisor_bot_cache_entries", {{"bot", "amayo"}, {"cache", "messages"}}), 2500);
  EXPECT_EQ(valueOf(r, "memvisor_bot_stats_stale", bot), 0);
  EXPECT_FALSE(valueOf(r, "memvisor_bot_reported_rss_bytes", bot)) << "not sent, not shown";
}

TEST(FigureMetrics, StaleFiguresVanishAndACacheNoLongerReportedGoes) {
  SeriesTable r;
  FigureMetrics m(r);
  const std::map<std::string, std::string> bot{{"bot", "amayo"}};
  m.stats("amayo", sample());
  auto s = sample();
  s.caches.erase("members");
  s.event_loop_lag_ms.reset();
  m.stats("amayo", s);
  EXPECT_FALSE(valueOf(r, "memvisor_bot_cache_entries", {{"bot", "amayo"}, {"cache", "members"}}));
  EXPECT_FALSE(valueOf(r, "memvisor_bot_event_loop_lag_seconds", bot));
  m.stale("amayo");
  EXPECT_FALSE(valueOf(r, "memvisor_bot_heap_used_bytes", bot));
  EXPECT_FALSE(valueOf(r, "memvisor_bot_cache_entries", {{"bot", "amayo"}, {"cache", "messages"}}));
  EXPECT_EQ(valueOf(r, "memvisor_bot_stats_stale", bot), 1);
  m.stats("amayo", sample());
  EXPECT_EQ(valueOf(r, "memvisor_bot_stats_stale", bot), 0);
  m.forgetStats("amayo");  // a new process
  EXPECT_FALSE(valueOf(r, "memvisor_bot_stats_stale", bot));
  EXPECT_FALSE(valueOf(r, "memvisor_bot_heap_used_bytes", bot));
}

TEST(FigureMetrics, HungAndAlertsCountFromZeroOnceEnabled) {
  SeriesTable r;
  FigureMetrics m(r);
  const std::map<std::string, std::string> bot{{"bot", "amayo"}};
  m.livenessEnabled("amayo", true);
  m.alertEnabled("amayo", true);
  EXPECT_EQ(valueOf(r, "memvisor_bot_hung", bot), 0);
  EXPECT_EQ(valueOf(r, "memvisor_bot_hangs_total", bot), 0);
  EXPECT_EQ(valueOf(r, "memvisor_bot_memory_alerts_total", bot), 0);
  EXPECT_FALSE(valueOf(r, "memvisor_bot_memory_alert", bot)) << "not measured yet";
  EXPECT_FALSE(valueOf(r, "memvisor_bot_ping_rtt_seconds", bot));
  m.hung("amayo", true);
  m.hung("amayo", false);
  m.hung("amayo", true);
  m.pingRtt("amayo", 0.0004);
  m.alert("amayo", true, true);
  m.alert("amayo", true, false);
  EXPECT_EQ(valueOf(r, "memvisor_bot_hung", bot), 1);
  EXPECT_EQ(valueOf(r, "memvisor_bot_hangs_total", bot), 2);
  EXPECT_EQ(valueOf(r, "memvisor_bot_ping_rtt_seconds", bot), 0.0004);
  EXPECT_EQ(valueOf(r, "memvisor_bot_memory_alert", bot), 1);
  EXPECT_EQ(valueOf(r, "memvisor_bot_memory_alerts_total", bot), 1);
  m.livenessEnabled("amayo", false);
  EXPECT_FALSE(valueOf(r, "memvisor_bot_hung", bot));
  m.removeBot("amayo");
  for (const auto& f : r.Collect()) EXPECT_TRUE(f.metric.empty()) << f.name;
}

}  // namespace
}  // namespace memvisor::daemon
