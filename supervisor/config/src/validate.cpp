// Stage 2 of config loading: the plain tree -> an immutable typed Config, collecting every
// problem with its position and path before failing (see load.hpp).
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <csignal>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "memvisor/config/keys.hpp"
#include "memvisor/config/load.hpp"
#include "memvisor/config/node_heap.hpp"
#include "memvisor/config/profiles.hpp"
#include "sections.hpp"
#include "validator.hpp"
#include "yaml_tree.hpp"

namespace memvisor::config {
namespace {

using namespace detail;

class ConfigBuilder : public SectionReader {
 public:
  explicit ConfigBuilder(Validator& v) : SectionReader(v) {}

  Config build(const PlainNode& root, const std::string& source) {
    Config c;
    c.source = source;
    if (root.kind == Kind::kNull) {
      v_.error(root.pos, "", "the file is empty: expected `bots:` (and optionally `daemon:`)");
      return c;
    }
    // Top-level `x-...` keys are free, as in docker-compose: a place for YAML anchors that
    // bots merge in with `<<: *name`.
    std::vector<std::string> top = kTopKeys;
    for (const auto& e : root.entries) {
      if (e.key.rfind("x-", 0) == 0) top.push_back(e.key);
    }
    if (!v_.checkMap(root, "", top)) return c;
    if (const auto* d = root.find("daemon")) c.daemon = daemon(*d);
    const auto* bots = root.find("bots");
    if (!bots) {
      v_.error(root.pos, "bots", "missing: at least one bot is required");
      return c;
    }
    if (bots->kind != Kind::kList) {
      v_.error(bots->pos, "bots", std::string("expected a list of bots, got ") + bots->kindName());
      return c;
    }
    if (bots->items.empty()) v_.error(bots->pos, "bots", "at least one bot is required");
    std::map<std::string, Pos> names;
    for (std::size_t i = 0; i < bots->items.size(); ++i) {
      const std::string path = "bots[" + std::to_string(i) + "]";
      BotConfig b = bot(bots->items[i], path);
      if (!b.name.empty()) {
        if (auto it = names.find(b.name); it != names.end()) {
          const auto* n = bots->items[i].find("name");
          v_.error(n ? n->pos : bots->items[i].pos, path + ".name",
                   "bot name '" + b.name + "' already used at line " +
                       std::to_string(it->second.line));
        } else {
          const auto* n = bots->items[i].find("name");
          names.emplace(b.name, n ? n->pos : bots->items[i].pos);
        }
      }
      c.bots.push_back(std::move(b));
    }
    return c;
  }

 private:
  DaemonConfig daemon(const PlainNode& n) {
    DaemonConfig d;
    const std::string path = "daemon";
    if (!v_.checkMap(n, path, kDaemonKeys)) return d;
    for (const auto& e : n.entries) {
      const std::string p = Validator::join(path, e.key);
      const PlainNode& val = e.value;
      if (e.key == "bot_socket" || e.key == "control_socket") {
        if (auto s = v_.nonEmptyString(val, p)) {
          if (s->front() != '/') {
            v_.error(val.pos, p, "must be an absolute path, got '" + *s + "'");
          } else if (s->size() >= 108) {
            v_.error(val.pos, p, "a Unix socket path must be shorter than 108 bytes");
          } else {
            (e.key == "bot_socket" ? d.bot_socket : d.control_socket) = *s;
          }
        }
      } else if (e.key == "control_mode") {
        if (auto s = v_.scalar(val, p)) {
          unsigned mode = 0;
          auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), mode, 8);
          if (ec != std::errc() || ptr != s->data() + s->size() || mode > 0777) {
            v_.error(val.pos, p, "expected an octal mode like \"0660\", got '" + *s + "'");
          } else {
            d.control_mode = mode;
          }
        }
      } else if (e.key == "allowed_uids") {
        if (auto ids = v_.idList(val, p)) d.allowed_uids = *ids;
      } else if (e.key == "allowed_gids") {
        if (auto ids = v_.idList(val, p)) d.allowed_gids = *ids;
      } else if (e.key == "journal") {
        d.journal = journal(val, p);
      } else if (e.key == "state_file") {
        if (auto s = v_.nonEmptyString(val, p)) {
          if (s->front() != '/') {
            v_.error(val.pos, p, "must be an absolute path, got '" + *s + "'");
          } else {
            d.state_file = *s;
          }
        }
      } else if (e.key == "metrics_listen") {
        if (auto s = v_.scalar(val, p)) {
          const auto colon = s->rfind(':');
          int port = 0;
          bool ok = colon != std::string::npos && colon > 0;
          if (ok) {
            auto [ptr, ec] = std::from_chars(s->data() + colon + 1, s->data() + s->size(), port);
            ok = ec == std::errc() && ptr == s->data() + s->size() && port > 0 && port < 65536;
          }
          if (!ok) {
            v_.error(val.pos, p, "expected host:port like 127.0.0.1:9464, got '" + *s + "'");
          } else {
            d.metrics_listen = *s;
          }
        }
      }
    }
    if (d.bot_socket == d.control_socket) {
      v_.error(n.pos, path, "bot_socket and control_socket must differ");
    }
    return d;
  }

  JournalConfig journal(const PlainNode& n, const std::string& path) {
    JournalConfig j;
    if (!v_.checkMap(n, path, kJournalKeys)) return j;
    for (const auto& e : n.entries) {
      const std::string p = Validator::join(path, e.key);
      if (e.key == "format") {
        if (auto s = v_.scalar(e.value, p)) {
          if (*s == "logfmt") {
            j.format = JournalFormat::kLogfmt;
          } else if (*s == "json") {
            j.format = JournalFormat::kJson;
          } else {
            v_.error(e.value.pos, p, "expected logfmt or json, got '" + *s + "'" +
                                         didYouMean(*s, {"logfmt", "json"}));
          }
        }
      } else if (e.key == "file") {
        if (auto s = v_.scalar(e.value, p)) j.file = *s;
      } else if (e.key == "max_size") {
        if (auto s = v_.size(e.value, p, false)) {
          if (s->bytes < 4 * kKiB) {
            v_.error(e.value.pos, p, "must be at least 4 KiB, got " + s->toString());
          } else {
            j.max_size = s->bytes;
          }
        }
      } else if (e.key == "keep") {
        if (auto k = v_.integer(e.value, p, 0, 100)) j.keep = static_cast<int>(*k);
      }
    }
    return j;
  }

  // Positions of values that cross-field checks refer to.
  struct BotPositions {
    Pos limit, hard_ceiling, hysteresis, kernel_margin, poll, restart;
    std::vector<Pos> threshold_at;
    std::vector<Pos> periodic_above;
    Pos thresholds;
  };

  BotConfig bot(const PlainNode& n, const std::string& path) {
    BotConfig b;
    BotPositions pos;
    const std::size_t errors_before = v_.errors().size();
    pos.limit = pos.hard_ceiling = pos.hysteresis = pos.kernel_margin = pos.poll = pos.restart =
        pos.thresholds = n.pos;
    b = botDefaults(nullptr);
    if (!v_.checkMap(n, path, kBotKeys)) return b;

    // A bad limit or profile is reported once, not again as a missing limit.
    bool limit_known = n.find("limit") != nullptr;
    if (const auto* prof = n.find("profile")) {
      limit_known = true;
      const std::string p = path + ".profile";
      if (auto s = v_.scalar(*prof, p)) {
        if (const Profile* pr = findProfile(*s)) {
          b = botDefaults(pr);
          limit_known = limit_known || pr->policy.limit > 0;
        } else {
          std::vector<std::string> names;
          std::string list;
          for (const auto& x : builtinProfiles()) {
            names.push_back(x.name);
            list += (list.empty() ? "" : "|") + x.name;
          }
          v_.error(prof->pos, p, "unknown profile '" + *s + "', expected " + list +
                                     didYouMean(*s, names));
        }
      }
    }

    bool has_spawn = false, has_attach = false;
    bool log_every_given = false;
    for (const auto& e : n.entries) {
      const std::string p = Validator::join(path, e.key);
      const PlainNode& val = e.value;
      if (e.key == "name") {
        if (auto s = v_.nonEmptyString(val, p)) {
          static const std::regex kName("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");
          if (!std::regex_match(*s, kName) || *s == "all") {
            v_.error(val.pos, p,
                     "must be 1-63 letters, digits, '_', '.', '-' (not 'all'), got '" + *s + "'");
          } else {
            b.name = *s;
          }
        }
      } else if (e.key == "profile") {
        // handled above, before the keys it provides defaults for
      } else if (e.key == "spawn") {
        has_spawn = true;
        spawn(val, p, b.spawn);
      } else if (e.key == "attach") {
        has_attach = true;
        attach(val, p, b.attach);
      } else if (e.key == "limit") {
        pos.limit = val.pos;
        if (auto s = v_.size(val, p, false)) {
          if (s->bytes < 1 * kMiB) {
            v_.error(val.pos, p, "must be at least 1 MiB, got " + s->toString());
          } else {
            b.policy.limit = s->bytes;
            limit_known = true;
          }
        }
      } else if (e.key == "metric") {
        if (auto s = v_.scalar(val, p)) {
          if (auto m = parseMetric(*s)) {
            b.policy.metric = *m;
          } else {
            v_.error(val.pos, p, "unknown metric '" + *s + "', expected rss|pss|working_set|cgroup" +
                                     didYouMean(*s, {"rss", "pss", "working_set", "cgroup"}));
          }
        }
      } else if (e.key == "thresholds") {
        pos.thresholds = val.pos;
        thresholds(val, p, b.policy.thresholds, pos.threshold_at);
      } else if (e.key == "hysteresis") {
        pos.hysteresis = val.pos;
        if (auto s = v_.size(val, p, true)) {
          if (s->is_percent && (s->percent < 0 || s->percent > 50)) {
            v_.error(val.pos, p, "must be 0%..50%, got " + s->toString());
          } else {
            b.policy.hysteresis = *s;
          }
        }
      } else if (e.key == "escalation") {
        escalation(val, p, b.policy.escalation);
      } else if (e.key == "periodic") {
        periodic(val, p, b.policy.periodic, pos.periodic_above);
      } else if (e.key == "predictive") {
        predictive(val, p, b.policy.predictive);
      } else if (e.key == "startup_grace") {
        if (auto d = v_.duration(val, p, Duration{0}, hours(1))) b.policy.startup_grace = *d;
      } else if (e.key == "hard_ceiling") {
        pos.hard_ceiling = val.pos;
        if (isNone(val)) {
          b.policy.hard_ceiling.reset();
        } else if (auto s = v_.size(val, p, true)) {
          if (s->is_percent && (s->percent < 100 || s->percent > 200)) {
            v_.error(val.pos, p, "must be 100%..200% of the limit, got " + s->toString());
          } else {
            b.policy.hard_ceiling = *s;
          }
        }
      } else if (e.key == "deadlines") {
        deadlines(val, p, b.policy.deadlines);
      } else if (e.key == "stop_signal") {
        if (auto s = v_.scalar(val, p)) {
          if (auto sig = parseSignal(*s)) {
            b.stop_signal = *sig;
          } else {
            v_.error(val.pos, p, "expected a signal name like SIGTERM or SIGINT, got '" + *s + "'");
          }
        }
      } else if (e.key == "stop_timeout") {
        if (auto d = v_.duration(val, p, milliseconds(100), hours(1))) b.stop_timeout = *d;
      } else if (e.key == "restart") {
        pos.restart = val.pos;
        restart(val, p, b.restart);
      } else if (e.key == "kernel_limit_margin") {
        pos.kernel_margin = val.pos;
        if (isNone(val)) {
          b.kernel_limit_margin.reset();
        } else if (auto s = v_.size(val, p, true)) {
          if (s->is_percent && (s->percent <= 0 || s->percent > 100)) {
            v_.error(val.pos, p, "must be 1%..100% of the limit, got " + s->toString());
          } else {
            b.kernel_limit_margin = *s;
          }
        }
      } else if (e.key == "poll") {
        pos.poll = val.pos;
        poll(val, p, b.policy);
      } else if (e.key == "stats_interval") {
        if (auto d = v_.duration(val, p, milliseconds(100), hours(1))) b.stats_interval = *d;
      } else if (e.key == "liveness") {
        liveness(val, p, b.liveness);
      } else if (e.key == "monitor") {
        log_every_given = monitor(val, p, b.monitor);
      }
    }
    // The seed's monitor interval is memvisord's too, unless monitor.log_every says otherwise.
    if (!log_every_given) {
      if (auto it = b.spawn.env.find("MEMORY_LOG_INTERVAL_SECONDS"); it != b.spawn.env.end()) {
        std::int64_t secs = 0;
        const auto& t = it->second;
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), secs);
        if (ec == std::errc() && ptr == t.data() + t.size() && secs > 0 && secs <= 86400) {
          b.monitor.log_every = seconds(secs);
        }
      }
    }

    if (!n.find("name")) v_.error(n.pos, path + ".name", "missing: every bot needs a name");
    if (has_spawn && has_attach) {
      v_.error(n.pos, path, "give either spawn: or attach:, not both");
    } else if (!has_spawn && !has_attach) {
      v_.error(n.pos, path, "missing spawn: (memvisord starts the bot) or attach: (it supervises a running one)");
    }
    b.mode = has_attach ? Mode::kAttach : Mode::kSpawn;
    if (!limit_known) {
      v_.error(n.pos, path + ".limit", "missing: give limit: (e.g. 384MiB) or a profile: that has one");
      return b;
    }
    // Cross-field checks compare values; after a bad value they would only add noise.
    if (v_.errors().size() == errors_before) crossChecks(b, path, pos);
    // The bot's own monitor (the seed's 80% heap alert) should agree with memvisord's limit.
    if (b.mode == Mode::kSpawn && !b.spawn.env.count("MEMORY_LIMIT_MB") && b.policy.limit > 0) {
      b.spawn.env["MEMORY_LIMIT_MB"] = std::to_string(b.policy.limit / kMiB);
    }
    // The profiles' NODE_OPTIONS (V8's heap limit, node_heap.hpp) follows an overridden limit,
    // unless the bot gave its own value or dropped it (`NODE_OPTIONS:` with no value).
    if (const Profile* pr = b.profile.empty() ? nullptr : findProfile(b.profile); pr && b.mode == Mode::kSpawn) {
      auto it = b.spawn.env.find("NODE_OPTIONS");
      if (it != b.spawn.env.end() && it->second == nodeOptionsFor(pr->policy.limit)) {
        it->second = nodeOptionsFor(b.policy.limit);
      }
    }
    return b;
  }

  void crossChecks(BotConfig& b, const std::string& path, const BotPositions& pos) {
    auto& pol = b.policy;
    const Bytes limit = pol.limit;
    // Thresholds: within the limit, sorted by their byte figure, no two at the same figure.
    bool above_limit = false;
    for (std::size_t i = 0; i < pol.thresholds.size(); ++i) {
      const auto& t = pol.thresholds[i];
      const Pos at_pos = i < pos.threshold_at.size() ? pos.threshold_at[i] : pos.thresholds;
      if (!t.at.is_percent && t.at.bytes > limit) {
        above_limit = true;
        v_.error(at_pos, path + ".thresholds[" + std::to_string(i) + "].at",
                 "must not exceed the limit (" + formatBytes(limit) + "), got " + t.at.toString());
      }
    }
    if (above_limit) return;  // the checks below compare against these figures
    std::vector<std::size_t> order(pol.thresholds.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t c) {
      return pol.thresholds[a].at.resolve(limit) < pol.thresholds[c].at.resolve(limit);
    });
    std::vector<Threshold> sorted;
    for (std::size_t k = 0; k < order.size(); ++k) {
      const std::size_t i = order[k];
      if (k > 0 && pol.thresholds[i].at.resolve(limit) ==
                       pol.thresholds[order[k - 1]].at.resolve(limit)) {
        const Pos at_pos = i < pos.threshold_at.size() ? pos.threshold_at[i] : pos.thresholds;
        v_.error(at_pos, path + ".thresholds[" + std::to_string(i) + "].at",
                 "two thresholds at the same figure (" +
                     formatBytes(pol.thresholds[i].at.resolve(limit)) + ")");
      }
      sorted.push_back(pol.thresholds[i]);
    }
    pol.thresholds = std::move(sorted);

    const Bytes hyst = pol.hysteresis.resolve(limit);
    if (!pol.thresholds.empty() && hyst >= pol.thresholds.front().at.resolve(limit)) {
      v_.error(pos.hysteresis, path + ".hysteresis",
               "must be below the lowest threshold (" +
                   formatBytes(pol.thresholds.front().at.resolve(limit)) + "), got " +
                   pol.hysteresis.toString());
    }
    Bytes top = 0;
    for (const auto& t : pol.thresholds) top = std::max(top, t.at.resolve(limit));
    if (pol.hard_ceiling) {
      const Bytes ceiling = pol.hard_ceiling->resolve(limit);
      if (ceiling <= top) {
        v_.error(pos.hard_ceiling, path + ".hard_ceiling",
                 "must be above every threshold (highest " + formatBytes(top) + "), got " +
                     pol.hard_ceiling->toString() + " = " + formatBytes(ceiling));
      }
      if (b.kernel_limit_margin) {
        const Bytes kernel = limit + b.kernel_limit_margin->resolve(limit);
        if (kernel <= ceiling) {
          v_.error(pos.kernel_margin, path + ".kernel_limit_margin",
                   "the kernel limit (" + formatBytes(kernel) +
                       ") must be above the hard ceiling (" + formatBytes(ceiling) +
                       "), or the kernel kills the bot before memvisord restarts it");
        }
      }
    }
    for (std::size_t i = 0; i < pol.periodic.size(); ++i) {
      const auto& per = pol.periodic[i];
      if (per.above && !per.above->is_percent && per.above->bytes > limit) {
        const Pos ap = i < pos.periodic_above.size() ? pos.periodic_above[i] : pos.limit;
        v_.error(ap, path + ".periodic[" + std::to_string(i) + "].above",
                 "must not exceed the limit (" + formatBytes(limit) + ")");
      }
    }
    if (pol.poll_min > pol.poll_max) {
      v_.error(pos.poll, path + ".poll", "min (" + formatDuration(pol.poll_min) +
                                             ") must not exceed max (" +
                                             formatDuration(pol.poll_max) + ")");
    }
    if (b.restart.backoff_initial > b.restart.backoff_max) {
      v_.error(pos.restart, path + ".restart",
               "backoff_initial (" + formatDuration(b.restart.backoff_initial) +
                   ") must not exceed backoff_max (" + formatDuration(b.restart.backoff_max) + ")");
    }
    if (b.mode == Mode::kSpawn && b.spawn.command.empty()) {
      // reported by spawn() when the key is present; here when spawn: had no command
    }
  }

  void spawn(const PlainNode& n, const std::string& path, SpawnSpec& s) {
    if (!v_.checkMap(n, path, kSpawnKeys)) return;
    const auto* cmd = n.find("command");
    if (!cmd) {
      v_.error(n.pos, path + ".command", "missing: the bot's argv, e.g. [node, dist/index.js]");
    }
    for (const auto& e : n.entries) {
      const std::string p = Validator::join(path, e.key);
      const PlainNode& val = e.value;
      if (e.key == "cgroup") {
        if (auto b = v_.boolean(val, p)) s.own_cgroup = *b;
      } else if (e.key == "command") {
        if (val.kind == Kind::kScalar) {
          v_.error(val.pos, p, "must be a list (argv), not a shell line: write [" +
                                   [&] {
                                     std::string out, word;
                                     std::istringstream is(val.scalar);
                                     while (is >> word) out += (out.empty() ? "" : ", ") + word;
                                     return out;
                                   }() + "]");
        } else if (auto l = v_.stringList(val, p)) {
          if (l->empty() || l->front().empty()) {
            v_.error(val.pos, p, "must name a program");
          } else {
            s.command = *l;
          }
        }
      } else if (e.key == "env") {
        if (val.kind != Kind::kMap) {
          v_.error(val.pos, p, std::string("expected a map NAME: value, got ") + val.kindName());
          continue;
        }
        static const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");
        std::set<std::string> seen;
        for (const auto& ev : val.entries) {
          const std::string ep = p + "." + ev.key;
          if (!std::regex_match(ev.key, kEnvName)) {
            v_.error(ev.key_pos, ep, "not a valid environment variable name");
          } else if (!seen.insert(ev.key).second) {
            v_.error(ev.key_pos, ep, "key given twice");
          } else if (ev.value.kind == Kind::kNull) {
            s.env.erase(ev.key);  // `NAME:` with no value drops a profile variable
          } else if (auto v = v_.scalar(ev.value, ep)) {
            s.env[ev.key] = *v;
          }
        }
      } else if (e.key == "cwd") {
        if (auto v = v_.nonEmptyString(val, p)) {
          if (v->front() != '/') {
            v_.error(val.pos, p, "must be an absolute path, got '" + *v + "'");
          } else {
            s.cwd = *v;
          }
        }
      } else if (e.key == "user") {
        if (auto v = v_.nonEmptyString(val, p)) s.user = *v;
      }
    }
  }

  void attach(const PlainNode& n, const std::string& path, AttachSpec& a) {
    if (!v_.checkMap(n, path, kAttachKeys)) return;
    int ways = 0;
    for (const auto& e : n.entries) {
      const std::string p = Validator::join(path, e.key);
      const PlainNode& val = e.value;
      if (e.key == "pidfile") {
        ++ways;
        a.by = AttachBy::kPidfile;
        if (auto v = v_.nonEmptyString(val, p)) {
          if (v->front() != '/') {
            v_.error(val.pos, p, "must be an absolute path, got '" + *v + "'");
          } else {
            a.pidfile = *v;
          }
        }
      } else if (e.key == "cmdline") {
        ++ways;
        a.by = AttachBy::kCmdline;
        if (auto v = v_.nonEmptyString(val, p)) {
          try {  // std::regex reports a bad pattern only by throwing
            std::regex re(*v);
            a.cmdline_pattern = *v;
          } catch (const std::regex_error& err) {
            v_.error(val.pos, p, std::string("not a valid regular expression: ") + err.what());
          }
        }
      } else if (e.key == "connect") {
        if (auto v = v_.boolean(val, p); v && *v) {
          ++ways;
          a.by = AttachBy::kConnect;
        }
      } else if (e.key == "uid") {
        if (auto v = v_.integer(val, p, 0, 4294967294LL)) a.uid = static_cast<std::uint32_t>(*v);
      } else if (e.key == "restart_command") {
        if (auto l = v_.stringList(val, p)) a.restart_command = *l;
      } else if (e.key == "allow_shutdown") {
        if (auto v = v_.boolean(val, p)) a.allow_shutdown = *v;
      }
    }
    if (ways != 1) {
      v_.error(n.pos, path, "give exactly one of pidfile:, cmdline: or connect: true");
    }
  }
};

}  // namespace

Result<Config> loadConfigString(std::string_view text, const std::string& name) {
  auto tree = detail::parseYamlTree(text, name);
  if (!tree) return tree.error();
  Validator v(name);
  ConfigBuilder builder(v);
  Config c = builder.build(*tree, name);
  if (v.failed()) {
    std::string msg;
    for (const auto& line : v.sortedErrors()) msg += (msg.empty() ? "" : "\n") + line;
    return Error{"bad_config", msg};
  }
  return c;
}

Result<Config> loadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"io", "reading " + path + ": cannot open (missing or not readable)"};
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error{"io", "reading " + path + ": read error"};
  const std::string text = ss.str();
  if (text.size() > 4 * 1024 * 1024) return Error{"io", "reading " + path + ": larger than 4 MiB"};
  return loadConfigString(text, path);
}

std::vector<std::string> errorLines(const Error& e) {
  std::vector<std::string> out;
  std::string_view rest = e.message;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    out.emplace_back(rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace memvisor::config
