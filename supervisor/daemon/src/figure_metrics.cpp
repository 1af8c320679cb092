// The series of a bot's own figures, its liveness and the monitor's alert (see the header).
#include "memvisor/daemon/figure_metrics.hpp"

namespace memvisor::daemon {

namespace pm = prometheus;

namespace {
pm::Family<pm::Gauge>& gauge(pm::Registry& r, const char* name, const char* help) {
  return pm::BuildGauge().Name(name).Help(help).Register(r);
}
pm::Family<pm::Counter>& counter(pm::Registry& r, const char* name, const char* help) {
  return pm::BuildCounter().Name(name).Help(help).Register(r);
}
}  // namespace

FigureMetrics::FigureMetrics(pm::Registry& r)
    : heap_used_(gauge(r, "memvisor_bot_heap_used_bytes",
                       "Heap in use, as the bot reports it (V8 heapUsed; C++ mallinfo2 uordblks)")),
      heap_total_(gauge(r, "memvisor_bot_heap_total_bytes",
                        "Heap reserved, as the bot reports it (V8 heapTotal; C++ arena + hblkhd)")),
      external_(gauge(r, "memvisor_bot_external_bytes",
                      "Memory outside the heap, as the bot reports it (V8 external)")),
      reported_rss_(gauge(r, "memvisor_bot_reported_rss_bytes",
                          "Resident set size as the bot itself reports it in its stats")),
      lag_(gauge(r, "memvisor_bot_event_loop_lag_seconds",
                 "Event-loop delay the bot reports (the seed's evLoopDelay)")),
      caches_(gauge(r, "memvisor_bot_cache_entries", "Entries per named cache of the bot")),
      stale_(gauge(r, "memvisor_bot_stats_stale",
                   "1 when the bot has sent no stats for stale_after intervals (its figures are "
                   "then absent)")),
      hung_(gauge(r, "memvisor_bot_hung",
                  "1 while the bot is hung: pings unanswered, or event-loop lag above its bound")),
      hangs_(counter(r, "memvisor_bot_hangs_total", "Times the bot was found hung")),
      rtt_(gauge(r, "memvisor_bot_ping_rtt_seconds", "Round trip of the bot's last answered ping")),
      alert_(gauge(r, "memvisor_bot_memory_alert",
                   "1 while the monitor's memory alert is on (default 80% of the limit)")),
      alerts_(counter(r, "memvisor_bot_memory_alerts_total",
                      "Memory alerts raised (once per crossing, with hysteresis)")) {}

void FigureMetrics::stats(const std::string& bot, const proto::Stats& s) {
  Bot& b = bots_[bot];
  const pm::Labels l{{"bot", bot}};
  auto set = [&](pm::Family<pm::Gauge>& f, pm::Gauge*& g, const std::optional<std::int64_t>& v) {
    if (!v) {
      drop(f, g);
      return;
    }
    if (!g) g = &f.Add(l);
    g->Set(static_cast<double>(*v));
  };
  set(heap_used_, b.heap_used, s.mem.heap_used_bytes);
  set(heap_total_, b.heap_total, s.mem.heap_total_bytes);
  set(external_, b.external, s.mem.external_bytes);
  set(reported_rss_, b.reported_rss, s.mem.rss_bytes);
  if (s.event_loop_lag_ms) {
    if (!b.lag) b.lag = &lag_.Add(l);
    b.lag->Set(*s.event_loop_lag_ms / 1000.0);
  } else {
    drop(lag_, b.lag);
  }
  for (auto it = b.caches.begin(); it != b.caches.end();) {
    if (!s.caches.count(it->first)) {
      caches_.Remove(it->second);
      it = b.caches.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, n] : s.caches) {
    auto& g = b.caches[name];
    if (!g) g = &caches_.Add({{"bot", bot}, {"cache", name}});
    g->Set(static_cast<double>(n));
  }
  if (!b.stale) b.stale = &stale_.Add(l);
  b.stale->Set(0);
}

void FigureMetrics::dropFigures(Bot& b) {
  drop(heap_used_, b.heap_used);
  drop(heap_total_, b.heap_total);
  drop(external_, b.external);
  drop(reported_rss_, b.reported_rss);
  drop(lag_, b.lag);
  for (auto& [name, g] : b.caches) caches_.Remove(g);
  b.caches.clear();
}

void FigureMetrics::stale(const std::string& bot) {
  Bot& b = bots_[bot];
  dropFigures(b);
  if (!b.stale) b.stale = &stale_.Add({{"bot", bot}});
  b.stale->Set(1);
}

void FigureMetrics::forgetStats(const std::string& bot) {
  Bot& b = bots_[bot];
  dropFigures(b);
  drop(stale_, b.stale);
}

void FigureMetrics::livenessEnabled(const std::string& bot, bool enabled) {
  Bot& b = bots_[bot];
  if (!enabled) {
    drop(hung_, b.hung);
    drop(hangs_, b.hangs);
    drop(rtt_, b.rtt);
    return;
  }
  if (!b.hung) {
    b.hung = &hung_.Add({{"bot", bot}});
    b.hung->Set(0);
  }
  if (!b.hangs) b.hangs = &hangs_.Add({{"bot", bot}});
}

void FigureMetrics::hung(const std::string& bot, bool hung) {
  Bot& b = bots_[bot];
  if (!b.hung) b.hung = &hung_.Add({{"bot", bot}});
  if (!b.hangs) b.hangs = &hangs_.Add({{"bot", bot}});
  b.hung->Set(hung ? 1 : 0);
  if (hung) b.hangs->Increment();
}

void FigureMetrics::pingRtt(const std::string& bot, double seconds) {
  Bot& b = bots_[bot];
  if (!b.rtt) b.rtt = &rtt_.Add({{"bot", bot}});
  b.rtt->Set(seconds);
}

void FigureMetrics::forgetPing(const std::string& bot) {
  Bot& b = bots_[bot];
  drop(rtt_, b.rtt);
  if (b.hung) b.hung->Set(0);
}

void FigureMetrics::alertEnabled(const std::string& bot, bool enabled) {
  Bot& b = bots_[bot];
  if (!enabled) {
    drop(alert_, b.alert);
    drop(alerts_, b.alerts);
    return;
  }
  if (!b.alerts) b.alerts = &alerts_.Add({{"bot", bot}});
}

void FigureMetrics::alert(const std::string& bot, bool on, bool raised) {
  Bot& b = bots_[bot];
  if (!b.alert) b.alert = &alert_.Add({{"bot", bot}});
  if (!b.alerts) b.alerts = &alerts_.Add({{"bot", bot}});
  b.alert->Set(on ? 1 : 0);
  if (raised) b.alerts->Increment();
}

void FigureMetrics::removeBot(const std::string& bot) {
  auto it = bots_.find(bot);
  if (it == bots_.end()) return;
  Bot& b = it->second;
  dropFigures(b);
  drop(stale_, b.stale);
  drop(hung_, b.hung);
  drop(hangs_, b.hangs);
  drop(rtt_, b.rtt);
  drop(alert_, b.alert);
  drop(alerts_, b.alerts);
  bots_.erase(it);
}

}  // namespace memvisor::daemon
