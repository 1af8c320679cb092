// FigureMetrics: the Prometheus series of what a bot reports about itself (its `stats`: heap,
// external memory, event-loop lag, entries per cache), of its liveness (hung, ping round
// trip) and of the monitor's memory alert. A figure that is not known has no series (no
// stats yet, or stale stats): absent, never a misleading 0. Counters exist from the start at
// 0 once their feature is on. Part of Metrics (same SeriesTable); called on the io thread only.
#pragma once

#include <string>

#include "memvisor/daemon/series_table.hpp"
#include "memvisor/proto/messages.hpp"

namespace memvisor::daemon {

class FigureMetrics {
 public:
  explicit FigureMetrics(SeriesTable& table) : table_(table) {}

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

  void removeBot(const std::string& bot) { table_.remove(bot); }

 private:
  void dropFigures(SeriesTable::Row& r);

  SeriesTable& table_;
};

}  // namespace memvisor::daemon
