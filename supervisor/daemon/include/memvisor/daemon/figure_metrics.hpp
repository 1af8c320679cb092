// FigureMetrics: the Prometheus series of what a bot reports about itself (its `stats`: heap,
// external memory, event-loop lag, entries per cache), of its liveness (hung, ping round
// trip) and of the monitor's memory alert. A figure that is not known has no series (no
// stats yet, or stale stats): absent, never a misleading 0. Counters exist from the start at
// 0 once their feature is on. Part of Metrics (same registry); called on the io thread only.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <string>

#include "memvisor/proto/messages.hpp"

namespace memvisor::daemon {

class FigureMetrics {
 public:
  explicit FigureMetrics(prometheus::Registry& registry);

  // The bot's latest stats: sets the figures it carries, removes those it no longer does
  // (a cache it stopped reporting); memvisor_bot_stats_stale = 0.
  void stats(const std::string& bot, const proto::Stats& s);
  // No stats for stale_after intervals: the figures vanish, memvisor_bot_stats_stale = 1.
  void stale(const std::string& bot);
  // A new process (or none): nothing is known about its figures yet.
  void forgetStats(const std::string& bot);

  // Liveness on: memvisor_bot_hung (0) and memvisor_bot_hangs_total (0) exist. Off: removed.
  void livenessEnabled(const std::string& bot, bool enabled);
  void hung(const std::string& bot, bool hung);  // true counts one hang
  void pingRtt(const std::string& bot, double seconds);
  void forgetPing(const std::string& bot);

  // Alert configured: memvisor_bot_memory_alerts_total exists from 0. The 0/1 gauge exists
  // once the bot's memory has been measured (alert()).
  void alertEnabled(const std::string& bot, bool enabled);
  void alert(const std::string& bot, bool on, bool raised);

  void removeBot(const std::string& bot);

 private:
  struct Bot {
    prometheus::Gauge* heap_used = nullptr;
    prometheus::Gauge* heap_total = nullptr;
    prometheus::Gauge* external = nullptr;
    prometheus::Gauge* reported_rss = nullptr;
    prometheus::Gauge* lag = nullptr;
    std::map<std::string, prometheus::Gauge*> caches;
    prometheus::Gauge* stale = nullptr;
    prometheus::Gauge* hung = nullptr;
    prometheus::Counter* hangs = nullptr;
    prometheus::Gauge* rtt = nullptr;
    prometheus::Gauge* alert = nullptr;
    prometheus::Counter* alerts = nullptr;
  };
  void dropFigures(Bot& b);
  template <typename F, typename M>
  void drop(F& family, M*& metric) {
    if (metric) family.Remove(metric);
    metric = nullptr;
  }

  prometheus::Family<prometheus::Gauge>& heap_used_;
  prometheus::Family<prometheus::Gauge>& heap_total_;
  prometheus::Family<prometheus::Gauge>& external_;
  prometheus::Family<prometheus::Gauge>& reported_rss_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& caches_;
  prometheus::Family<prometheus::Gauge>& stale_;
  prometheus::Family<prometheus::Gauge>& hung_;
  prometheus::Family<prometheus::Counter>& hangs_;
  prometheus::Family<prometheus::Gauge>& rtt_;
  prometheus::Family<prometheus::Gauge>& alert_;
  prometheus::Family<prometheus::Counter>& alerts_;
  std::map<std::string, Bot> bots_;
};

}  // namespace memvisor::daemon
