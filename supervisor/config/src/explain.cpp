// --check-config's explanation and the reload diff. Both describe a bot as a list of
// (key, human value) lines, so a diff is a comparison of two such lists.
#include <algorithm>
#include <csignal>
#include <cstring>
#include <sstream>

#include "memvisor/config/load.hpp"

namespace memvisor::config {
namespace {

std::string pct(Bytes part, Bytes limit) {
  if (limit <= 0) return "?";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", 100.0 * static_cast<double>(part) / static_cast<double>(limit));
  return buf;
}

std::string sustainText(const Sustain& s) {
  if (s.samples > 0) return "for " + std::to_string(s.samples) + (s.samples == 1 ? " sample" : " samples");
  if (s.duration.count() > 0) return "for " + formatDuration(s.duration);
  return "at once";
}

std::string argv(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& a : v) {
    out += out.empty() ? "" : " ";
    out += a.find_first_of(" \t\"'") == std::string::npos ? a : "'" + a + "'";
  }
  return out;
}

std::string signalName(int sig) {
  switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    case SIGQUIT: return "SIGQUIT";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGKILL: return "SIGKILL";
    default: return "signal " + std::to_string(sig);
  }
}

using Lines = std::vector<std::pair<std::string, std::string>>;

// Lifecycle keys (a change takes effect at the next start) vs policy keys (applied at once).
Lines lifecycleLines(const BotConfig& b) {
  Lines l;
  if (b.mode == Mode::kSpawn) {
    l.emplace_back("spawn.command", argv(b.spawn.command));
    if (!b.spawn.cwd.empty()) l.emplace_back("spawn.cwd", b.spawn.cwd);
    if (!b.spawn.user.empty()) l.emplace_back("spawn.user", b.spawn.user);
    for (const auto& [k, v] : b.spawn.env) l.emplace_back("spawn.env." + k, v);
  }
  return l;
}

// "trim -> sweep -> compact -> restart", from the table.
std::string ladderText() {
  std::string out;
  for (const auto& n : memvisor::actionNameList(memvisor::ActionSet::kLadder)) {
    out += (out.empty() ? "" : " -> ") + n;
  }
  return out;
}

Lines policyLines(const BotConfig& b) {
  const auto& p = b.policy;
  Lines l;
  l.emplace_back("mode", b.mode == Mode::kSpawn ? "spawn" : std::string("attach by ") + toString(b.attach.by));
  if (b.mode == Mode::kAttach) {
    if (!b.attach.pidfile.empty()) l.emplace_back("attach.pidfile", b.attach.pidfile);
    if (!b.attach.cmdline_pattern.empty()) l.emplace_back("attach.cmdline", b.attach.cmdline_pattern);
    if (b.attach.uid) l.emplace_back("attach.uid", std::to_string(*b.attach.uid));
    l.emplace_back("attach.restart_command",
                   !b.attach.restart_command.empty() ? argv(b.attach.restart_command)
                   : b.attach.allow_shutdown
                       ? "(none: a restart asks the bot to shut down; allow_shutdown is set)"
                       : "(none: memvisord never restarts it)");
  }
  l.emplace_back("profile", b.profile.empty() ? "(none)" : b.profile);
  l.emplace_back("limit", formatBytes(p.limit));
  l.emplace_back("metric", toString(p.metric));
  for (std::size_t i = 0; i < p.thresholds.size(); ++i) {
    const auto& t = p.thresholds[i];
    const Bytes at = t.at.resolve(p.limit);
    std::string v = std::string(toString(t.action)) + " at " + formatBytes(at) + " (" +
                    (t.at.is_percent ? t.at.toString() : pct(at, p.limit)) + ") " +
                    sustainText(t.sustain) + ", cooldown " + formatDuration(t.cooldown);
    if (t.min_freed > 0) v += ", expects at least " + formatBytes(t.min_freed) + " freed";
    v += "; re-arms below " + formatBytes(at - p.hysteresis.resolve(p.limit));
    l.emplace_back("thresholds[" + std::to_string(i) + "]", v);
  }
  l.emplace_back("escalation",
                 p.escalation.enabled
                     ? std::string("on, up to ") + toString(p.escalation.max_action) +
                           " (" + ladderText() + "; restart only at or above the limit)"
                     : "off");
  for (std::size_t i = 0; i < p.periodic.size(); ++i) {
    const auto& a = p.periodic[i];
    std::string v = std::string(toString(a.action)) + " every " + formatDuration(a.every);
    if (a.above) v += " when above " + formatBytes(a.above->resolve(p.limit));
    l.emplace_back("periodic[" + std::to_string(i) + "]", v);
  }
  l.emplace_back("predictive",
                 p.predictive ? std::string(toString(p.predictive->action)) +
                                    " when the limit is less than " +
                                    formatDuration(p.predictive->horizon) +
                                    " away at the growth of the last " +
                                    formatDuration(p.predictive->window) + " (cooldown " +
                                    formatDuration(p.predictive->cooldown) + ")"
                              : "off");
  l.emplace_back("startup_grace", formatDuration(p.startup_grace) + " (no restart, other actions allowed)");
  l.emplace_back("hard_ceiling",
                 p.hard_ceiling ? "restart at once at " + formatBytes(p.hard_ceiling->resolve(p.limit)) +
                                      " (" + p.hard_ceiling->toString() + "), even during grace"
                                : "off");
  // memvisord sets a kernel limit only on a cgroup it creates, which it does only for the bots
  // it starts: in attach mode the cgroup belongs to the bot's own manager (Docker, the kubelet).
  if (!b.kernel_limit_margin) {
    l.emplace_back("kernel_limit", "not set by memvisord");
  } else if (b.mode == Mode::kAttach) {
    l.emplace_back("kernel_limit", "not set by memvisord (attach mode: the bot's cgroup belongs to "
                                   "whatever started it; kernel_limit_margin " +
                                       b.kernel_limit_margin->toString() + " applies to spawned bots only)");
  } else {
    l.emplace_back("kernel_limit", formatBytes(p.limit + b.kernel_limit_margin->resolve(p.limit)) +
                                       " (limit + " + b.kernel_limit_margin->toString() +
                                       ", on the cgroup memvisord creates for the bot when permitted)");
  }
  std::string deadlines;
  for (const auto& a : memvisor::kActions) {
    if (a.deadline_key.empty()) continue;
    deadlines += (deadlines.empty() ? "" : ", ") + std::string(a.deadline_key) + " " +
                 formatDuration(p.deadlines.forAction(a.kind));
  }
  l.emplace_back("deadlines", deadlines);
  l.emplace_back("stop", signalName(b.stop_signal) + ", SIGKILL after " + formatDuration(b.stop_timeout));
  if (b.mode == Mode::kSpawn) {
    l.emplace_back("restart", "backoff " + formatDuration(b.restart.backoff_initial) + " doubling to " +
                                  formatDuration(b.restart.backoff_max) + ", FATAL after " +
                                  std::to_string(b.restart.start_retries) +
                                  " failed starts (runs shorter than " +
                                  formatDuration(b.restart.start_seconds) + ")");
  }
  l.emplace_back("poll", formatDuration(p.poll_min) + ".." + formatDuration(p.poll_max) +
                            " (next sample when growth at " + formatBytes(p.max_growth) +
                            "/s could reach the next threshold)");
  l.emplace_back("stats_interval", formatDuration(b.stats_interval));
  const auto& lv = b.liveness;
  if (lv.enabled) {
    const auto worst = lv.every * lv.misses + lv.deadline;
    std::string v = "ping every " + formatDuration(lv.every) + ", a pong later than " +
                    formatDuration(lv.deadline) + " is a miss; " + std::to_string(lv.misses) +
                    (lv.misses == 1 ? " miss makes" : " misses in a row make") +
                    " the bot hung (caught within " + formatDuration(worst) + ")";
    if (lv.max_lag) {
      v += ", as does event-loop lag above " + formatDuration(*lv.max_lag) + " for " +
           formatDuration(lv.lag_for);
    }
    const bool can_restart = b.mode == Mode::kSpawn || !b.attach.restart_command.empty();
    if (lv.on_hung == OnHung::kRestart && can_restart) {
      v += "; then a graceful restart (shutdown within " +
           formatDuration(p.deadlines.shutdown()) + ", then " + signalName(b.stop_signal) +
           ", SIGKILL after " + formatDuration(b.stop_timeout) + ")";
    } else {
      v += "; then a journal line only";
      if (lv.on_hung == OnHung::kRestart) v += " (memvisord cannot restart this bot)";
    }
    l.emplace_back("liveness", v);
  } else {
    l.emplace_back("liveness", "off (memvisord does not ping the bot)");
  }
  const auto& m = b.monitor;
  l.emplace_back("monitor.log_every",
                 m.log_every.count() > 0
                     ? "a journal line with the bot's own figures every " +
                           formatDuration(m.log_every)
                     : std::string("off"));
  if (m.alert_at) {
    const Bytes at = m.alert_at->resolve(p.limit);
    l.emplace_back("monitor.alert",
                   "warn at " + formatBytes(at) + " (" +
                       (m.alert_at->is_percent ? m.alert_at->toString() : pct(at, p.limit)) +
                       " of the limit) of " + toString(p.metric) + ", once per crossing: re-arms below " +
                       formatBytes(at - m.alert_hysteresis.resolve(p.limit)));
  } else {
    l.emplace_back("monitor.alert", "off");
  }
  l.emplace_back("monitor.stale_after",
                 std::to_string(m.stale_after) + " stats intervals (" +
                     formatDuration(b.stats_interval * m.stale_after) +
                     ") without stats: the bot's figures are shown as stale");
  return l;
}

Lines daemonLines(const DaemonConfig& d) {
  char mode[8];
  const ControlSocketAccess access = controlSocketAccess(d);
  std::snprintf(mode, sizeof mode, "%04o", access.mode);
  std::string uids, gids;
  for (auto u : d.allowed_uids) uids += (uids.empty() ? "" : ",") + std::to_string(u);
  for (auto g : d.allowed_gids) gids += (gids.empty() ? "" : ",") + std::to_string(g);
  return {
      {"bot_socket", d.bot_socket},
      {"control_socket", d.control_socket + " (mode " + mode +
                             (access.gid ? ", group " + std::to_string(*access.gid) : "") +
                             (d.control_mode ? "" : ", derived from the allowed peers") + ")"},
      {"allowed_uids", uids.empty() ? "(root and memvisord's own uid)" : uids},
      {"allowed_gids", gids.empty() ? "(none)" : gids},
      {"journal.format", d.journal.format == JournalFormat::kJson ? "json" : "logfmt"},
      {"journal.file", d.journal.file.empty() ? "(none)"
                                              : d.journal.file + ", rotated at " +
                                                    formatBytes(d.journal.max_size) + ", " +
                                                    std::to_string(d.journal.keep) + " kept"},
      {"metrics_listen", d.metrics_listen.empty() ? "(off)" : d.metrics_listen},
      {"state_file", d.state_file.empty() ? "(none: counters start at 0 at every start)"
                                          : d.state_file + " (counters kept across restarts)"},
  };
}

void diffLines(const std::string& prefix, const Lines& before, const Lines& after,
               std::vector<std::string>& out) {
  std::map<std::string, std::string> a(before.begin(), before.end());
  std::map<std::string, std::string> b(after.begin(), after.end());
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) {
      out.push_back(prefix + k + " removed (was " + v + ")");
    } else if (it->second != v) {
      out.push_back(prefix + k + ": " + v + " -> " + it->second);
    }
  }
  for (const auto& [k, v] : b) {
    if (!a.count(k)) out.push_back(prefix + k + " added: " + v);
  }
}

}  // namespace

std::string explainConfig(const Config& c) {
  std::ostringstream os;
  os << c.source << ": OK, " << c.bots.size() << (c.bots.size() == 1 ? " bot" : " bots") << "\n";
  os << "daemon:\n";
  for (const auto& [k, v] : daemonLines(c.daemon)) os << "  " << k << ": " << v << "\n";
  for (const auto& b : c.bots) {
    os << "bot " << b.name << ":\n";
    for (const auto& [k, v] : policyLines(b)) os << "  " << k << ": " << v << "\n";
    for (const auto& [k, v] : lifecycleLines(b)) os << "  " << k << ": " << v << "\n";
    // The ladder in words: what happens as the figure climbs.
    const auto& p = b.policy;
    // Attach mode: a restart runs restart_command, or asks the bot to shut down when its own
    // manager brings it back (allow_shutdown); with neither it can only be journalled.
    const bool can_restart = b.mode == Mode::kSpawn || !b.attach.restart_command.empty();
    const bool by_shutdown = !can_restart && b.attach.allow_shutdown;
    const std::string no_restart =
        by_shutdown ? " (by asking the bot to shut down, allow_shutdown: its own manager - Docker "
                      "restart:, systemd Restart=, the kubelet - starts it again)"
                    : " (journalled only: memvisord did not start this bot and has neither "
                      "restart_command nor allow_shutdown)";
    os << "  what happens as " << toString(p.metric) << " climbs:\n";
    for (const auto& t : p.thresholds) {
      const Bytes at = t.at.resolve(p.limit);
      os << "    at " << formatBytes(at) << ": " << toString(t.action);
      if (t.action == ActionKind::kRestart) {
        os << (can_restart ? " (after the " + formatDuration(p.startup_grace) + " start-up grace)"
                           : no_restart);
      }
      os << "\n";
    }
    if (p.hard_ceiling) {
      os << "    at " << formatBytes(p.hard_ceiling->resolve(p.limit)) << ": immediate restart (hard ceiling)"
         << (can_restart ? "" : no_restart) << "\n";
    }
    if (b.kernel_limit_margin && b.mode == Mode::kSpawn) {
      os << "    at " << formatBytes(p.limit + b.kernel_limit_margin->resolve(p.limit))
         << ": the kernel's OOM killer (memvisord's backstop)\n";
    }
  }
  return os.str();
}

ConfigDiff diffConfigs(const Config& before, const Config& after) {
  ConfigDiff d;
  std::vector<std::string> daemon_changes;
  diffLines("daemon.", daemonLines(before.daemon), daemonLines(after.daemon), daemon_changes);
  if (!daemon_changes.empty()) {
    d.daemon_changed = true;
    for (auto& line : daemon_changes) d.changes.push_back(line + " (takes effect at memvisord restart)");
  }
  for (const auto& b : before.bots) {
    if (!after.findBot(b.name)) {
      d.removed_bots.push_back(b.name);
      d.changes.push_back("bot " + b.name + " removed");
    }
  }
  for (const auto& b : after.bots) {
    const BotConfig* old = before.findBot(b.name);
    if (!old) {
      d.added_bots.push_back(b.name);
      d.changes.push_back("bot " + b.name + " added");
      continue;
    }
    std::vector<std::string> lines;
    diffLines("bot " + b.name + ": ", policyLines(*old), policyLines(b), lines);
    std::vector<std::string> life;
    diffLines("bot " + b.name + ": ", lifecycleLines(*old), lifecycleLines(b), life);
    if (!lines.empty() || !life.empty() || !(*old == b)) d.changed_bots.push_back(b.name);
    if (!life.empty()) {
      d.respawn_bots.push_back(b.name);
      for (auto& l : life) l += " (at the next start)";
    }
    d.changes.insert(d.changes.end(), lines.begin(), lines.end());
    d.changes.insert(d.changes.end(), life.begin(), life.end());
  }
  return d;
}

}  // namespace memvisor::config
