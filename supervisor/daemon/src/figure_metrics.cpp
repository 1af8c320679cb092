// The series of a bot's own figures, its liveness and the monitor's alert (see the header).
#include "memvisor/daemon/figure_metrics.hpp"

namespace memvisor::daemon {

void FigureMetrics::stats(const std::string& bot, const proto::Stats& s) {
  SeriesTable::Row& r = table_.row(bot);
  auto set = [&](Series series, const std::optional<std::int64_t>& v) {
    if (v) {
      table_.set(r, series, static_cast<double>(*v));
    } else {
      table_.drop(r, series);
    }
  };
  set(Series::kHeapUsed, s.mem.heap_used_bytes);
  set(Series::kHeapTotal, s.mem.heap_total_bytes);
  set(Series::kExternal, s.mem.external_bytes);
  set(Series::kReportedRss, s.mem.rss_bytes);
  if (s.event_loop_lag_ms) {
    table_.set(r, Series::kLag, *s.event_loop_lag_ms / 1000.0);
  } else {
    table_.drop(r, Series::kLag);
  }
  for (const auto& [name, v] : table_.open(r, OpenSeries::kCaches)) {
    if (!s.caches.count(name)) table_.dropOpen(r, OpenSeries::kCaches, name);
  }
  for (const auto& [name, n] : s.caches) {
    table_.setOpen(r, OpenSeries::kCaches, name, static_cast<double>(n));
  }
  table_.set(r, Series::kStale, 0);
}

void FigureMetrics::dropFigures(SeriesTable::Row& r) {
  for (Series s : {Series::kHeapUsed, Series::kHeapTotal, Series::kExternal,
                   Series::kReportedRss, Series::kLag}) {
    table_.drop(r, s);
  }
  table_.clearOpen(r, OpenSeries::kCaches);
}

void FigureMetrics::stale(const std::string& bot) {
  SeriesTable::Row& r = table_.row(bot);
  dropFigures(r);
  table_.set(r, Series::kStale, 1);
}

void FigureMetrics::forgetStats(const std::string& bot) {
  SeriesTable::Row& r = table_.row(bot);
  dropFigures(r);
  table_.drop(r, Series::kStale);
}

void FigureMetrics::livenessEnabled(const std::string& bot, bool enabled) {
  SeriesTable::Row& r = table_.row(bot);
  if (!enabled) {
    for (Series s : {Series::kHung, Series::kHangs, Series::kRtt}) table_.drop(r, s);
    return;
  }
  if (!table_.value(r, Series::kHung)) table_.set(r, Series::kHung, 0);
  table_.add(r, Series::kHangs, 0);
}

void FigureMetrics::hung(const std::string& bot, bool hung) {
  SeriesTable::Row& r = table_.row(bot);
  table_.set(r, Series::kHung, hung ? 1 : 0);
  table_.add(r, Series::kHangs, hung ? 1 : 0);
}

void FigureMetrics::pingRtt(const std::string& bot, double seconds) {
  table_.set(table_.row(bot), Series::kRtt, seconds);
}

void FigureMetrics::forgetPing(const std::string& bot) {
  SeriesTable::Row& r = table_.row(bot);
  table_.drop(r, Series::kRtt);
  if (table_.value(r, Series::kHung)) table_.set(r, Series::kHung, 0);
}

void FigureMetrics::alertEnabled(const std::string& bot, bool enabled) {
  SeriesTable::Row& r = table_.row(bot);
  if (!enabled) {
    table_.drop(r, Series::kAlert);
    table_.drop(r, Series::kAlerts);
    return;
  }
  table_.add(r, Series::kAlerts, 0);
}

void FigureMetrics::alert(const std::string& bot, bool on, bool raised) {
  SeriesTable::Row& r = table_.row(bot);
  table_.set(r, Series::kAlert, on ? 1 : 0);
  table_.add(r, Series::kAlerts, raised ? 1 : 0);
}

}  // namespace memvisor::daemon
