// The bot's own figures and liveness in memvisorctl's views (see status_view.hpp).
#include "status_view.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace memvisor::ctl {

namespace {

std::string msText(double ms) {
  char buf[32];
  if (ms >= 1000) {
    std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  }
  return buf;
}

// "89.4/112.1 MiB": one unit for both when they share it.
std::string pair(std::int64_t used, std::int64_t total) {
  const std::string u = humanSize(used), t = humanSize(total);
  const auto us = u.rfind(' '), ts = t.rfind(' ');
  if (us != std::string::npos && ts != std::string::npos && u.substr(us) == t.substr(ts)) {
    return u.substr(0, us) + "/" + t;
  }
  return u + "/" + t;
}

}  // namespace

std::string heapCell(const proto::BotStatus& b) {
  if (!b.bot_stats) return "-";
  if (b.bot_stats->stale) return "stale";
  const auto& m = b.bot_stats->stats.mem;
  if (m.heap_used_bytes && m.heap_total_bytes) return pair(*m.heap_used_bytes, *m.heap_total_bytes);
  if (m.heap_used_bytes) return humanSize(*m.heap_used_bytes);
  return "-";
}

std::string lagCell(const proto::BotStatus& b) {
  if (!b.bot_stats) return "-";
  if (b.bot_stats->stale) return "stale";
  const auto& lag = b.bot_stats->stats.event_loop_lag_ms;
  return lag ? msText(*lag) : "-";
}

std::string stateText(const proto::BotStatus& b) {
  if (b.liveness && *b.liveness == "hung" && (b.state == "RUNNING" || b.state == "STARTING")) {
    return "HUNG";
  }
  return b.state;
}

void printBotDetail(std::ostream& out, const proto::BotStatus& b, const Style& st,
                    std::int64_t now_ms) {
  std::vector<std::pair<std::string, std::string>> rows;
  std::string state = st.paint(stateText(b), Style::forState(stateText(b)));
  if (b.pid > 0) state += ", pid " + std::to_string(b.pid) + ", up " + humanDuration(b.uptime_ms);
  state += b.connected ? ", connected" : ", no session";
  rows.emplace_back("state", state);
  if (b.liveness) {
    std::string l = *b.liveness;
    if (b.ping_ms) l += ", last ping answered in " + msText(*b.ping_ms);
    if (b.liveness_reason) l += (*b.liveness == "hung" ? "; " : "; last hung: ") + *b.liveness_reason;
    rows.emplace_back("liveness", l);
  }
  std::string mem = st.paint(b.memory_state, Style::forMemoryState(b.memory_state));
  if (b.metric_bytes && b.limit_bytes > 0) {
    mem += ", " + b.metric + " " + humanSize(*b.metric_bytes) + " of " + humanSize(b.limit_bytes) +
           " (" +
           std::to_string(static_cast<int>(100.0 * static_cast<double>(*b.metric_bytes) /
                                               static_cast<double>(b.limit_bytes) +
                                           0.5)) +
           "%)";
  } else {
    mem += ", limit " + humanSize(b.limit_bytes);
  }
  if (b.limit_source == "runtime") mem += " (limit set at run time)";
  if (b.memory_alert) mem += *b.memory_alert ? ", ALERT on" : ", alert off";
  rows.emplace_back("memory", mem);
  std::string figs;
  auto add = [&](const char* name, const std::optional<std::int64_t>& v) {
    if (v) figs += std::string(figs.empty() ? "" : ", ") + name + " " + humanSize(*v);
  };
  add("rss", b.rss_bytes);
  add("pss", b.pss_bytes);
  add("working set", b.working_set_bytes);
  add("cgroup", b.cgroup_usage_bytes);
  if (b.pss_bytes && b.pss_age_ms) figs += " (pss " + humanDuration(*b.pss_age_ms) + " old)";
  rows.emplace_back("measured", figs.empty() ? "-" : figs);
  if (b.detection) {
    std::string d = *b.detection;
    if (b.detection_bound_ms) d += ", bound " + humanDuration(*b.detection_bound_ms);
    rows.emplace_back("detection", d);
  }
  if (!b.thresholds_bytes.empty()) {
    std::string t;
    for (auto v : b.thresholds_bytes) t += (t.empty() ? "" : ", ") + humanSize(v);
    rows.emplace_back("thresholds", t);
  }
  if (b.bot_stats) {
    const auto& s = b.bot_stats->stats;
    std::string v = humanDuration(b.bot_stats->age_ms) + " old";
    if (b.bot_stats->stale) v += " " + st.paint("(STALE: no stats lately; not current)", Color::kYellow);
    std::string f;
    auto put = [&](const std::string& name, const std::optional<std::int64_t>& x) {
      if (x) f += (f.empty() ? "" : ", ") + name + " " + humanSize(*x);
    };
    if (s.mem.heap_used_bytes && s.mem.heap_total_bytes) {
      f = "heap " + pair(*s.mem.heap_used_bytes, *s.mem.heap_total_bytes);
    } else {
      put("heap used", s.mem.heap_used_bytes);
      put("heap total", s.mem.heap_total_bytes);
    }
    put("external", s.mem.external_bytes);
    put("rss", s.mem.rss_bytes);
    if (s.event_loop_lag_ms) f += (f.empty() ? "" : ", ") + std::string("event-loop lag ") + msText(*s.event_loop_lag_ms);
    if (s.uptime_ms) f += (f.empty() ? "" : ", ") + std::string("up ") + humanDuration(*s.uptime_ms);
    rows.emplace_back("bot reports", v + (f.empty() ? "" : ": " + f));
    if (!s.caches.empty()) {
      std::string c;
      for (const auto& [name, n] : s.caches) c += (c.empty() ? "" : ", ") + name + " " + std::to_string(n);
      rows.emplace_back("caches", c + " entries");
    }
  } else {
    rows.emplace_back("bot reports", "nothing yet (no stats)");
  }
  if (b.last_action) {
    const auto& a = *b.last_action;
    std::string v = a.action + (a.ok ? "" : " FAILED");
    if (a.action == "trim" || a.action == "sweep" || a.action == "compact") {
      v += a.freed_bytes >= 0 ? " freed " + humanSize(a.freed_bytes) : " grew " + humanSize(-a.freed_bytes);
    }
    if (a.at_ms > 0) v += ", " + humanDuration(now_ms - a.at_ms) + " ago";
    if (!a.reason.empty()) v += " (" + a.reason + ")";
    rows.emplace_back("last action", v);
  }
  rows.emplace_back("restarts", std::to_string(b.restarts) + ", OOM kills " + std::to_string(b.oom_kills));
  out << st.paint(b.name, Color::kBold) << "\n";
  std::size_t w = 0;
  for (const auto& r : rows) w = std::max(w, r.first.size());
  for (const auto& [k, v] : rows) {
    out << "  " << k << ":" << std::string(w - k.size() + 1, ' ') << v << "\n";
  }
}

}  // namespace memvisor::ctl
