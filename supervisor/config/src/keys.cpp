// The table of configuration keys and the reference generated from it (see keys.hpp).
// Long because it is a table: one row per key of every section, with its documentation.
#include "memvisor/config/keys.hpp"

#include <sstream>

#include "memvisor/config/profiles.hpp"

namespace memvisor::config {
namespace {

using Show = std::string (*)(const BotConfig&);

std::string dur(Duration d) { return formatDuration(d); }
std::string optSize(const std::optional<SizeSpec>& s) { return s ? s->toString() : "off"; }

std::string thresholdsText(const BotConfig& b) {
  std::string out;
  for (const auto& t : b.policy.thresholds) {
    out += (out.empty() ? "" : ", ") + t.at.toString() + " " + toString(t.action);
  }
  return out.empty() ? "none" : out;
}

std::string periodicText(const BotConfig& b) {
  std::string out;
  for (const auto& a : b.policy.periodic) {
    out += (out.empty() ? "" : ", ") + std::string(toString(a.action)) + " every " + dur(a.every);
    if (a.above) out += " above " + a.above->toString();
  }
  return out.empty() ? "none" : out;
}

std::string livenessText(const BotConfig& b) {
  const auto& l = b.liveness;
  if (!l.enabled) return "off";
  std::string out = "ping every " + dur(l.every) + ", " + std::to_string(l.misses) + " misses of " +
                    dur(l.deadline) + ": " + toString(l.on_hung);
  if (l.max_lag) out += ", lag > " + dur(*l.max_lag) + " for " + dur(l.lag_for);
  return out;
}

std::string monitorText(const BotConfig& b) {
  const auto& m = b.monitor;
  std::string out = m.log_every.count() > 0 ? "log every " + dur(m.log_every) : std::string("no log");
  // Without log_every the bot's MEMORY_LOG_INTERVAL_SECONDS decides (the profiles set it).
  if (auto it = b.spawn.env.find("MEMORY_LOG_INTERVAL_SECONDS"); m.log_every.count() == 0 && it != b.spawn.env.end()) {
    out = "log every " + it->second + "s";
  }
  out += m.alert_at ? ", alert at " + m.alert_at->toString() : std::string(", no alert");
  return out;
}

std::vector<KeyInfo> deadlineKeys() {
  std::vector<KeyInfo> keys;
  for (const auto& a : memvisor::kActions) {
    if (a.deadline_key.empty()) continue;
    keys.push_back({std::string(a.deadline_key), "duration", "1ms..600s",
                    a.kind == ActionKind::kRestart
                        ? "how long the bot has to exit after the protocol `shutdown` (then the stop signal)"
                        : "how long the bot has to answer this action (then it failed, and escalates)",
                    nullptr, {}});
    keys.back().fixed = formatDuration(std::chrono::duration_cast<Duration>(a.default_deadline));
  }
  return keys;
}

std::vector<Section> makeSections() {
  return {
      {"(top level)", "", {
           {"daemon", "map", "", "memvisord's own settings (below)", nullptr, "(defaults)"},
           {"bots", "list", "at least one", "the supervised bots (below)", nullptr, "(required)"},
       }},
      {"daemon", "memvisord's sockets, access, journal and metrics", {
           {"bot_socket", "path", "absolute, < 108 bytes", "the Unix socket bots connect to", nullptr, "/run/memvisor/bot.sock"},
           {"control_socket", "path", "absolute, < 108 bytes, not bot_socket", "the Unix socket memvisorctl connects to", nullptr, "/run/memvisor/ctl.sock"},
           {"control_mode", "octal mode", "0000..0777", "file mode of the control socket", nullptr, "\"0660\""},
           {"allowed_uids", "list of uids", "", "who may use the control socket besides root and memvisord's uid", nullptr, "[]"},
           {"allowed_gids", "list of gids", "", "groups whose members may use the control socket", nullptr, "[]"},
           {"journal", "map", "", "where the journal goes (below)", nullptr, "(defaults)"},
           {"metrics_listen", "host:port", "port 1..65535", "Prometheus /metrics endpoint; empty = none", nullptr, "(none)"},
           {"state_file", "path", "absolute", "counters kept across memvisord's restarts (restarts, OOM kills, actions, freed bytes)", nullptr, "(none)"},
       }},
      {"daemon.journal", "the journal: one line per event on stderr, optionally a rotated file", {
           {"format", "logfmt | json", "", "line format on stderr (--log-format overrides)", nullptr, "logfmt"},
           {"file", "path", "", "JSON-lines file, rotated; empty = none", nullptr, "(none)"},
           {"max_size", "size", ">= 4 KiB", "rotate the file at this size", nullptr, "10MiB"},
           {"keep", "integer", "0..100", "rotated files kept", nullptr, "3"},
       }},
      {"bots[]", "one supervised bot (a profile's values are overridden key by key)", {
           {"name", "string", "1-63 of [A-Za-z0-9_.-], not `all`", "the bot's name (memvisorctl, journal, metrics)", nullptr, "(required)"},
           {"profile", "standard | ultra | prod | prod-optimized", "", "built-in defaults for the keys below", nullptr, "(none)"},
           {"spawn", "map", "", "memvisord starts the bot (below); exclusive with attach", nullptr, "-"},
           {"attach", "map", "", "memvisord supervises a bot it did not start (below)", nullptr, "-"},
           {"limit", "size", ">= 1 MiB", "the memory limit the policy keeps the bot under",
            +[](const BotConfig& b) { return b.policy.limit ? formatBytes(b.policy.limit) : std::string("(required)"); }},
           {"metric", "rss | pss | working_set | cgroup", "", "the figure compared with the limit",
            +[](const BotConfig& b) { return std::string(toString(b.policy.metric)); }},
           {"thresholds", "list", "at 1%..100% or a size", "the ladder: at which figure to do what (below)", &thresholdsText},
           {"hysteresis", "size or %", "0%..50%", "a fired threshold re-arms below at - hysteresis",
            +[](const BotConfig& b) { return b.policy.hysteresis.toString(); }},
           {"escalation", "bool or map", "", "escalate trim -> sweep -> compact -> restart (below)",
            +[](const BotConfig& b) {
              return b.policy.escalation.enabled ? "on, max " + std::string(toString(b.policy.escalation.max_action))
                                                 : std::string("off");
            }},
           {"periodic", "list", "", "housekeeping every N (below)", &periodicText},
           {"predictive", "map", "", "act early when the limit is near at the current growth (below)",
            +[](const BotConfig& b) {
              return b.policy.predictive ? std::string(toString(b.policy.predictive->action)) + " within " +
                                               dur(b.policy.predictive->horizon)
                                         : std::string("off");
            }},
           {"startup_grace", "duration", "0s..1h", "no restart (other actions allowed) this long after a start",
            +[](const BotConfig& b) { return dur(b.policy.startup_grace); }},
           {"hard_ceiling", "size or %, or none", "100%..200%", "restart at once above this, even during the grace",
            +[](const BotConfig& b) { return optSize(b.policy.hard_ceiling); }},
           {"deadlines", "map", "", "how long each action may take (below)", nullptr, "(defaults)"},
           {"stop_signal", "signal name", "SIGTERM, SIGINT, ...", "the signal that stops the bot", nullptr, "SIGTERM"},
           {"stop_timeout", "duration", "100ms..1h", "SIGKILL this long after the stop signal",
            +[](const BotConfig& b) { return dur(b.stop_timeout); }},
           {"restart", "map", "", "spawn mode: restart on exit with backoff (below)", nullptr, "(defaults)"},
           {"kernel_limit_margin", "size or %, or none", "1%..100%", "kernel limit = limit + margin where memvisord owns the cgroup",
            +[](const BotConfig& b) { return optSize(b.kernel_limit_margin); }},
           {"poll", "map", "", "adaptive sampling interval bounds (below)",
            +[](const BotConfig& b) { return dur(b.policy.poll_min) + ".." + dur(b.policy.poll_max); }},
           {"stats_interval", "duration", "100ms..1h", "how often the bot sends its own figures",
            +[](const BotConfig& b) { return dur(b.stats_interval); }},
           {"liveness", "map, or none", "", "ping the bot; restart or journal a hung one (below)", &livenessText},
           {"monitor", "map", "", "the seed's memory monitor: a journal line every N and the alert (below)", &monitorText},
       }},
      {"bots[].spawn", "memvisord starts the bot", {
           {"command", "list (argv)", "not a shell line", "the bot's argv; argv[0] looked up in PATH", nullptr, "(required)"},
           {"env", "map", "", "environment (a profile's seed variables, then these; NAME: with no value drops one)", nullptr, "(profile's)"},
           {"cwd", "path", "absolute", "working directory", nullptr, "memvisord's"},
           {"user", "name or uid", "", "run as this user", nullptr, "memvisord's"},
           {"cgroup", "bool", "", "a memory cgroup of its own under memvisord's (memvisor-BOT-TAG, TAG naming this memvisord by its bot socket), even without a kernel limit; made again at a start if someone removed it", nullptr, "true"},
       }},
      {"bots[].attach", "memvisord supervises a bot it did not start; exactly one of pidfile, cmdline, connect", {
           {"pidfile", "path", "absolute", "find the bot by the pid in this file", nullptr, "-"},
           {"cmdline", "regex", "ECMAScript", "find the bot by /proc/PID/cmdline", nullptr, "-"},
           {"connect", "bool", "", "the bot is whoever connects with this name", nullptr, "-"},
           {"uid", "uid", "0..4294967294", "connect: the uid allowed to connect as this bot", nullptr, "memvisord's"},
           {"restart_command", "list (argv)", "", "how to restart it; empty = never restarted", nullptr, "[]"},
           {"allow_shutdown", "bool", "", "ask the bot to shut down on a restart decision without restart_command", nullptr, "false"},
       }},
      {"bots[].thresholds[]", "one rung of the ladder", {
           {"at", "size or %", "1%..100% of the limit, or a size > 0", "the figure at which it fires", nullptr, "(required)"},
           {"action", actionNames(ActionSet::kAll), "", "what to do", nullptr, "(required)"},
           {"for", "duration or N samples", "<= 1h, or 1..1000 samples", "sustain before firing", nullptr, "first sample"},
           {"cooldown", "duration", "0s..24h", "minimum time between two runs, unless the last one brought the figure below the re-arm level (it worked); wait before escalating", nullptr, "60s"},
           {"min_freed", "size", "", "freeing less counts as ineffective (escalates)", nullptr, "0"},
       }},
      {"bots[].periodic[]", "housekeeping", {
           {"action", actionNames(ActionSet::kAll), "", "what to do", nullptr, "(required)"},
           {"every", "duration", "1s..7d", "how often (from start-up)", nullptr, "15m"},
           {"above", "size or %", "0%..100%", "skip the round below this figure", nullptr, "(always)"},
       }},
      {"bots[].predictive", "act before the limit at the observed growth", {
           {"enabled", "bool", "", "false turns it off", nullptr, "true"},
           {"horizon", "duration", "1s..1h", "act when the limit is less than this away", nullptr, "120s"},
           {"window", "duration", "2s..1h", "growth rate = least squares over this window", nullptr, "60s"},
           {"action", "trim | sweep | compact | alert", "", "first action; repeated predictions escalate up to compact", nullptr, "sweep"},
           {"cooldown", "duration", "1s..24h", "minimum time between two predictions acting", nullptr, "60s"},
       }},
      {"bots[].escalation", "or a bool: escalation: false", {
           {"enabled", "bool", "", "false turns escalation off", nullptr, "true"},
           {"max", actionNames(ActionSet::kLadder), "", "escalation never goes above this", nullptr, "restart"},
       }},
      {"bots[].deadlines", "per action, from the action table", deadlineKeys()},
      {"bots[].restart", "spawn mode: restart on exit, capped exponential backoff", {
           {"backoff_initial", "duration", "10ms..1h, <= backoff_max", "first delay", nullptr, "1s"},
           {"backoff_max", "duration", "10ms..24h", "the delay doubles up to this", nullptr, "60s"},
           {"start_retries", "integer", "0..1000", "consecutive failed starts before FATAL", nullptr, "5"},
           {"start_seconds", "duration", "0s..1h", "a run shorter than this is a failed start", nullptr, "10s"},
       }},
      {"bots[].liveness", "is the bot's event loop still serving? (none turns it off)", {
           {"enabled", "bool", "", "false turns it off", nullptr, "true"},
           {"every", "duration", "100ms..1h", "one ping this often while the bot is connected", nullptr, "10s"},
           {"deadline", "duration", "10ms..600s, <= every", "a pong later than this is a miss", nullptr, "5s"},
           {"misses", "integer", "1..100", "misses in a row that make the bot hung", nullptr, "3"},
           {"on_hung", "journal | restart", "", "what a hung bot gets (restart: the graceful path, then signals)", nullptr, "restart"},
           {"max_lag", "duration, or none", "1ms..1h", "event-loop lag (from the bot's stats) above this...", nullptr, "(none)"},
           {"lag_for", "duration", "0s..1h", "...for this long also makes the bot hung", nullptr, "30s"},
       }},
      {"bots[].monitor", "the seed's memory monitor, as memvisord's", {
           {"log_every", "duration, or none", "1s..24h", "a journal line with the bot's own figures this often", nullptr, "MEMORY_LOG_INTERVAL_SECONDS of the bot's env, else off"},
           {"alert_at", "size or %, or none", "1%..100%", "warn once when the figure reaches this", nullptr, "80%"},
           {"alert_hysteresis", "size or %", "0%..50%", "the alert re-arms below alert_at - this", nullptr, "5%"},
           {"stale_after", "integer", "1..100", "stats intervals without a `stats` before its figures are stale", nullptr, "3"},
       }},
      {"bots[].poll", "the adaptive sampling interval (detection wakes it earlier)", {
           {"min", "duration", "1ms..10m, <= max", "shortest interval between two samples", nullptr, "10ms"},
           {"max", "duration", "1ms..10m", "longest interval between two samples", nullptr, "5s"},
           {"max_growth", "rate", "e.g. 1GiB/s", "worst-case growth: sample before the bot could reach the next decision figure (kernel thresholds on the bot's own cgroup need no such bound)", nullptr, "256MiB/s"},
       }},
  };
}

std::string cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else out += c;
  }
  return out.empty() ? "" : out;
}

}  // namespace

const std::vector<Section>& configSections() {
  static const std::vector<Section> sections = makeSections();
  return sections;
}

std::vector<std::string> keyNames(std::string_view path) {
  std::vector<std::string> out;
  for (const auto& s : configSections()) {
    if (s.path != path) continue;
    for (const auto& k : s.keys) out.push_back(k.key);
  }
  return out;
}

std::string configReference() {
  std::ostringstream os;
  os << "# memvisord configuration reference\n\n"
     << "Generated from the key table (supervisor/config/src/keys.cpp) by `memvisord "
        "--config-reference`; a test keeps this file equal to it. Sizes: `384MiB`, `512M`, "
        "`80%` (of the limit); durations: `300ms`, `30s`, `15m`, `1h`. Unknown keys are "
        "errors. `memvisord --check-config FILE` shows what a file resolves to.\n";
  const auto& profiles = builtinProfiles();
  for (const auto& s : configSections()) {
    const bool per_bot = s.path == "bots[]";
    os << "\n## `" << s.path << "`\n\n";
    if (!s.doc.empty()) os << cell(s.doc) << ".\n\n";
    os << "| key | type | range | default |";
    if (per_bot) {
      for (const auto& p : profiles) os << " " << p.name << " |";
    }
    os << " meaning |\n|---|---|---|---|";
    if (per_bot) {
      for (std::size_t i = 0; i < profiles.size(); ++i) os << "---|";
    }
    os << "---|\n";
    for (const auto& k : s.keys) {
      const std::string def = k.show ? k.show(botDefaults(nullptr)) : std::string(k.fixed);
      os << "| `" << k.key << "` | " << cell(k.type) << " | " << cell(k.range) << " | " << cell(def) << " |";
      if (per_bot) {
        for (const auto& p : profiles) os << " " << cell(k.show ? k.show(botDefaults(&p)) : def) << " |";
      }
      os << " " << cell(k.doc) << " |\n";
    }
  }
  return os.str();
}

}  // namespace memvisor::config
