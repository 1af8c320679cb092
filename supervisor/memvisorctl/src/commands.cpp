#include "commands.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <deque>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "memvisor/proto/codec.hpp"
#include "memvisor/logfmt.hpp"
#include "memvisor/units.hpp"
#include "status_view.hpp"

namespace memvisor::ctl {

namespace {

using nlohmann::json;

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The wire form of a message without its envelope: what --json prints.
json body(const proto::Message& m) {
  json j = json::parse(proto::encode(m), nullptr, false);
  if (j.is_object()) {
    j.erase("type");
    j.erase("id");
  }
  return j;
}

int usageError(Context& ctx, const Command& cmd, const std::string& message) {
  *ctx.err << ctx.errStyle().paint("Error:", Color::kRed) << " " << message << "\n"
           << "Usage: memvisorctl " << cmd.usage << "\n"
           << "(memvisorctl " << cmd.name << " --help shows examples)\n";
  return kExitUsage;
}

// ---- status ----------------------------------------------------------------------------

std::string lastActionText(const proto::LastAction& a, std::int64_t now) {
  std::string s = a.action;
  if (!a.ok) {
    s += " FAILED";
  } else if (findAction(a.action, ActionSet::kToBot)) {
    s += a.freed_bytes >= 0 ? " freed " + humanSize(a.freed_bytes)
                            : " grew " + humanSize(-a.freed_bytes);
  }
  if (a.at_ms > 0) s += ", " + humanDuration(now - a.at_ms) + " ago";
  return s;
}

int printStatus(Context& ctx, const proto::StatusResult& r, bool verbose) {
  if (ctx.json) {
    *ctx.out << body(r).dump(2) << "\n";
    return kExitOk;
  }
  const Style st = ctx.style();
  const bool tty = ctx.outIsTty();
  const std::int64_t now = nowMs();
  if (verbose) {
    for (std::size_t i = 0; i < r.bots.size(); ++i) {
      if (i > 0) *ctx.out << "\n";
      printBotDetail(*ctx.out, r.bots[i], st, now);
    }
    return kExitOk;
  }
  // The compact set: what memvisord measures and does, plus the bot's own heap and lag.
  // PSS, working set, cgroup usage, external memory, caches: status -v, show BOT, --json.
  Table t({"NAME", "STATE", "MEMORY", "PID", "UPTIME", "USED", "LIMIT", "USE", "HEAP", "LAG",
           "DETECTION", "LAST ACTION", "RESTARTS", "OOM"});
  for (const auto& b : r.bots) {
    std::string use = "-";
    if (b.metric_bytes && b.limit_bytes > 0) {
      const double f = static_cast<double>(*b.metric_bytes) / static_cast<double>(b.limit_bytes);
      use = std::to_string(static_cast<int>(f * 100.0 + 0.5)) + "%";
      if (tty) use = st.paint(bar(f, 10), Style::forMemoryState(b.memory_state)) + " " + use;
    }
    std::string used = b.metric_bytes ? humanSize(*b.metric_bytes) : "-";
    if (b.metric_bytes && !b.metric.empty()) used += " " + st.paint(b.metric, Color::kDim);
    std::string limit = b.limit_bytes > 0 ? humanSize(b.limit_bytes) : "-";
    if (b.limit_source == "runtime") limit += "*";
    std::string state = st.paint(stateText(b), Style::forState(stateText(b)));
    if (b.state == "RUNNING" && !b.connected) state += st.paint(" (no session)", Color::kDim);
    t.add({st.paint(b.name, Color::kBold), state,
           st.paint(b.memory_state, Style::forMemoryState(b.memory_state)),
           b.pid > 0 ? std::to_string(b.pid) : "-", b.pid > 0 ? humanDuration(b.uptime_ms) : "-",
           used, limit, use, heapCell(b), lagCell(b), b.detection ? *b.detection : "-",
           b.last_action ? lastActionText(*b.last_action, now) : "-", std::to_string(b.restarts),
           std::to_string(b.oom_kills)});
  }
  *ctx.out << t.render(st);
  bool runtime = false;
  for (const auto& b : r.bots) runtime = runtime || b.limit_source == "runtime";
  if (runtime)
    *ctx.out << "* limit set at run time (memvisorctl limit); a reload restores the file's value\n";
  return kExitOk;
}

int cmdStatus(Context& ctx, const Command& cmd, const Invocation& inv) {
  int code = 0;
  auto c = connectOrReport(ctx, code);
  if (!c) return code;
  proto::StatusRequest req;
  req.bots = inv.args;
  auto r = c->request(req, ctx.timeout());
  if (!r) return reportError(ctx, r.error());
  if (const auto* e = std::get_if<proto::ErrorMsg>(&*r))
    return reportError(ctx, {e->code, e->message});
  const auto* s = std::get_if<proto::StatusResult>(&*r);
  if (s == nullptr)
    return reportError(ctx, {proto::errc::kUnexpected, "unexpected reply " + proto::typeName(*r)});
  return printStatus(ctx, *s, inv.verbose || std::string_view(cmd.name) == "show");
}

// ---- actions and lifecycle -------------------------------------------------------------

const char* pastTense(std::string_view verb) {
  if (auto a = findAction(verb)) return actionInfo(*a).past.data();
  if (verb == "start") return "started";
  if (verb == "stop") return "stopped";
  return "done";
}

std::string durationText(double ms) {
  char buf[32];
  if (ms < 10)
    std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  else if (ms < 10000)
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  else
    std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000.0);
  return buf;
}

// Sends one request per target and prints one line per bot outcome.
template <typename MakeRequest>
int runPerTarget(Context& ctx, const Command& cmd, const Invocation& inv, bool is_action,
                 MakeRequest make) {
  if (inv.args.empty()) {
    return usageError(ctx, cmd, std::string(cmd.name) + " requires a bot name (or all)");
  }
  int code = 0;
  auto c = connectOrReport(ctx, code);
  if (!c) return code;
  std::vector<proto::BotOutcome> outcomes;
  for (const auto& target : inv.args) {
    auto r = c->request(make(target), ctx.timeout());
    if (!r) return reportError(ctx, r.error());
    if (const auto* e = std::get_if<proto::ErrorMsg>(&*r)) {
      outcomes.push_back(proto::BotOutcome{target, false, e->code, e->message, 0, 0});
    } else if (const auto* rr = std::get_if<proto::RunResult>(&*r)) {
      outcomes.insert(outcomes.end(), rr->results.begin(), rr->results.end());
    } else if (const auto* lr = std::get_if<proto::LifecycleResult>(&*r)) {
      outcomes.insert(outcomes.end(), lr->results.begin(), lr->results.end());
    } else {
      return reportError(ctx,
                         {proto::errc::kUnexpected, "unexpected reply " + proto::typeName(*r)});
    }
  }
  bool all_ok = true;
  for (const auto& o : outcomes) all_ok = all_ok && o.ok;
  if (ctx.json) {
    json arr = json::array();
    for (const auto& o : outcomes) {
      json j = {{"bot", o.bot}, {"ok", o.ok}};
      if (!o.ok) j["code"] = o.code;
      if (!o.message.empty()) j["message"] = o.message;
      if (is_action) {
        j["freed_bytes"] = o.freed_bytes;
        j["duration_ms"] = o.duration_ms;
      }
      arr.push_back(j);
    }
    *ctx.out << json{{"command", cmd.name}, {"ok", all_ok}, {"results", arr}}.dump(2) << "\n";
    return all_ok ? kExitOk : kExitFailed;
  }
  const Style st = ctx.style();
  for (const auto& o : outcomes) {
    std::string line = st.paint(o.bot, Color::kBold) + ": ";
    if (!o.ok) {
      std::string why = o.message.empty() ? o.code : o.message;
      if (!o.code.empty() && !o.message.empty()) why = o.code + ": " + o.message;
      line += st.paint("ERROR", Color::kRed) + " (" + why + ")";
    } else if (is_action) {
      // "amayo: trimmed 23.1 MiB in 4 ms": the figure is what was freed.
      line += std::string(pastTense(cmd.name)) + " ";
      line += st.paint(humanSize(std::max<std::int64_t>(0, o.freed_bytes)), Color::kGreen);
      line += " in " + durationText(o.duration_ms);
      if (o.freed_bytes < 0) line += " (memory grew " + humanSize(-o.freed_bytes) + ")";
      if (!o.message.empty()) line += " (" + o.message + ")";
    } else {
      line += pastTense(cmd.name);
      if (!o.message.empty()) line += " (" + o.message + ")";
    }
    *ctx.out << line << "\n";
  }
  return all_ok ? kExitOk : kExitFailed;
}

int cmdRun(Context& ctx, const Command& cmd, const Invocation& inv) {
  const auto action = proto::parseAction(cmd.name);
  return runPerTarget(ctx, cmd, inv, true, [&](const std::string& bot) -> proto::Message {
    return proto::RunRequest{0, bot, *action};
  });
}

int cmdLifecycle(Context& ctx, const Command& cmd, const Invocation& inv) {
  const auto op = proto::parseLifecycleOp(cmd.name);
  return runPerTarget(ctx, cmd, inv, false, [&](const std::string& bot) -> proto::Message {
    return proto::LifecycleRequest{0, bot, *op};
  });
}

// ---- pid, limit, reload ----------------------------------------------------------------

int cmdPid(Context& ctx, const Command& cmd, const Invocation& inv) {
  if (inv.args.size() != 1) return usageError(ctx, cmd, "pid requires one bot name (or all)");
  int code = 0;
  auto c = connectOrReport(ctx, code);
  if (!c) return code;
  proto::StatusRequest req;
  if (inv.args[0] != "all") req.bots = inv.args;
  auto r = c->request(req, ctx.timeout());
  if (!r) return reportError(ctx, r.error());
  if (const auto* e = std::get_if<proto::ErrorMsg>(&*r))
    return reportError(ctx, {e->code, e->message});
  const auto* s = std::get_if<proto::StatusResult>(&*r);
  if (s == nullptr) return reportError(ctx, {proto::errc::kUnexpected, "unexpected reply"});
  const bool all = inv.args[0] == "all";
  bool ok = true;
  json arr = json::array();
  for (const auto& b : s->bots) {
    ok = ok && b.pid > 0;
    arr.push_back({{"bot", b.name}, {"pid", b.pid}, {"state", b.state}});
    if (ctx.json) continue;
    if (b.pid <= 0) {
      *ctx.out << b.name << ": not running (" << b.state << ")\n";
    } else if (all) {
      *ctx.out << b.name << ": " << b.pid << "\n";
    } else {
      *ctx.out << b.pid << "\n";
    }
  }
  if (ctx.json)
    *ctx.out << (all ? json{{"bots", arr}} : arr.empty() ? json::object() : arr[0]).dump(2) << "\n";
  return ok ? kExitOk : kExitFailed;
}

int cmdLimit(Context& ctx, const Command& cmd, const Invocation& inv) {
  if (inv.args.empty() || inv.args.size() > 2) {
    return usageError(ctx, cmd, "limit requires a bot name and, to change it, a size");
  }
  if (inv.args[0] == "all") return usageError(ctx, cmd, "limit works on one bot at a time");
  proto::LimitRequest req;
  req.bot = inv.args[0];
  if (inv.args.size() == 2) {
    auto size = memvisor::parseSize(inv.args[1], false);
    if (!size) return usageError(ctx, cmd, size.error().message);
    if (size->bytes < 1) return usageError(ctx, cmd, "\"" + inv.args[1] + "\" is out of range");
    req.limit_bytes = size->bytes;
  }
  int code = 0;
  auto c = connectOrReport(ctx, code);
  if (!c) return code;
  auto r = c->request(req, ctx.timeout());
  if (!r) return reportError(ctx, r.error());
  if (const auto* e = std::get_if<proto::ErrorMsg>(&*r))
    return reportError(ctx, {e->code, e->message});
  const auto* l = std::get_if<proto::LimitResult>(&*r);
  if (l == nullptr) return reportError(ctx, {proto::errc::kUnexpected, "unexpected reply"});
  if (ctx.json) {
    json j = body(*l);
    j["changed"] = req.limit_bytes.has_value();
    *ctx.out << j.dump(2) << "\n";
    return kExitOk;
  }
  const Style st = ctx.style();
  if (req.limit_bytes) {
    *ctx.out << st.paint(l->bot, Color::kBold) << ": limit set to " << humanSize(l->limit_bytes)
             << " (runtime; a reload restores the config file's value)\n";
  } else {
    *ctx.out << st.paint(l->bot, Color::kBold) << ": limit " << humanSize(l->limit_bytes) << " ("
             << (l->source == "runtime" ? "set at run time" : "from the config") << ")\n";
  }
  return kExitOk;
}

int cmdReload(Context& ctx, const Command& cmd, const Invocation& inv) {
  if (!inv.args.empty()) return usageError(ctx, cmd, "reload takes no arguments");
  int code = 0;
  auto c = connectOrReport(ctx, code);
  if (!c) return code;
  auto r = c->request(proto::ReloadRequest{}, ctx.timeout());
  if (!r) return reportError(ctx, r.error());
  if (const auto* e = std::get_if<proto::ErrorMsg>(&*r))
    return reportError(ctx, {e->code, e->message});
  const auto* rr = std::get_if<proto::ReloadResult>(&*r);
  if (rr == nullptr) return reportError(ctx, {proto::errc::kUnexpected, "unexpected reply"});
  if (ctx.json) {
    *ctx.out << body(*rr).dump(2) << "\n";
    return rr->ok ? kExitOk : kExitFailed;
  }
  if (!rr->ok) {
    *ctx.err << ctx.errStyle().paint("Error:", Color::kRed)
             << " the config was not reloaded; memvisord keeps running the old one:\n";
    for (const auto& e : rr->errors) *ctx.err << "  " << e << "\n";
    return kExitFailed;
  }
  if (rr->changes.empty()) {
    *ctx.out << "reloaded: no changes\n";
  } else {
    *ctx.out << "reloaded:\n";
    for (const auto& ch : rr->changes) *ctx.out << "  " << ch << "\n";
  }
  return kExitOk;
}

// ---- events ----------------------------------------------------------------------------

void printEntry(Context& ctx, const proto::JournalEntry& e) {
  if (ctx.json) {
    *ctx.out << body(e).dump() << "\n" << std::flush;
    return;
  }
  const Style st = ctx.style();
  const std::string level = proto::toString(e.level);
  std::string line = st.paint(timestamp(e.ts_ms, true), Color::kDim) + " ";
  std::string lv = level;
  lv.resize(5, ' ');
  line += st.paint(lv, Style::forLevel(level)) + " ";
  line += st.paint(e.bot.empty() ? "-" : e.bot, Color::kBold) + " ";
  line += st.paint(e.kind, Color::kCyan) + " " + e.message;
  for (const auto& [k, v] : e.fields)
    line += " " + st.paint(k + "=", Color::kDim) + logfmtValue(v);
  *ctx.out << line << "\n" << std::flush;
}

int cmdEvents(Context& ctx, const Command& cmd, const Invocation& inv) {
  if (inv.args.size() > 1) return usageError(ctx, cmd, "events takes at most one bot name");
  proto::Subscribe sub;
  if (!inv.args.empty() && inv.args[0] != "all") sub.bot = inv.args[0];
  sub.follow = inv.follow;
  if (!inv.since.empty()) {
    auto d = memvisor::parseDuration(inv.since);
    if (!d) return usageError(ctx, cmd, "--since: " + d.error().message);
    sub.since_ms = d->count();
  } else {
    sub.since_ms = nowMs();  // everything memvisord still holds
  }
  int code = 0;
  auto c = connectOrReport(ctx, code);
  if (!c) return code;
  sub.id = c->nextId();
  if (auto s = c->send(sub); !s) return reportError(ctx, s.error());
  bool backlog_done = false;
  while (true) {
    auto r = c->receive(backlog_done ? std::chrono::milliseconds(-1) : ctx.timeout());
    if (!r) {
      if (r.error().code == "interrupted") return kExitOk;  // Ctrl-C in the shell
      if (backlog_done && r.error().code == kDisconnected) {
        *ctx.err << "memvisord closed the event stream\n";
        return kExitNoConnect;
      }
      return reportError(ctx, r.error());
    }
    if (const auto* e = std::get_if<proto::JournalEntry>(&*r)) {
      printEntry(ctx, *e);
    } else if (const auto* a = std::get_if<proto::Ack>(&*r); a && a->id == sub.id) {
      backlog_done = true;
      if (!sub.follow) return kExitOk;
    } else if (const auto* err = std::get_if<proto::ErrorMsg>(&*r)) {
      return reportError(ctx, {err->code, err->message});
    }
  }
}

// ---- help ------------------------------------------------------------------------------

int cmdQuit(Context&, const Command&, const Invocation&) { return kExitOk; }
int cmdHelp(Context&, const Command&, const Invocation&) { return kExitOk; }  // runCommandLine

// One command per action the bot protocol carries, from the action table.
std::vector<Command> actionCommands() {
  static std::deque<std::string> text;  // the generated usage and details outlive the table
  std::vector<Command> out;
  for (const auto& a : kActions) {
    if (!a.to_bot) continue;
    const std::string n(a.name);
    const char* usage = text.emplace_back(n + " BOT|all [BOT...]").c_str();
    const char* details = text.emplace_back(
        "Prints what was freed and how long it took; exit 1 when a bot failed.\n"
        "Examples:\n  memvisorctl " + n + " amayo\n  memvisorctl " + n + " all --json").c_str();
    out.push_back({a.name.data(), usage, a.summary.data(), details, ArgKind::kTargets, cmdRun});
  }
  return out;
}

template <typename... Parts>
std::vector<Command> concat(Parts&&... parts) {
  std::vector<Command> out;
  (out.insert(out.end(), parts.begin(), parts.end()), ...);
  return out;
}

const std::vector<Command> kCommands = concat(
    std::vector<Command>{
    {"status", "status [BOT...]", "Show the bots: state, memory against the limit, last action",
     "-v shows every figure, the bot's own stats and caches, and its liveness.\n"
     "STATE says HUNG for a running bot that stopped answering pings.\n"
     "Examples:\n  memvisorctl status\n  memvisorctl status -v amayo\n"
     "  memvisorctl status amayo --json | jq '.bots[0].bot_stats.caches'",
     ArgKind::kBots, cmdStatus},
    {"show", "show [BOT...]", "Everything memvisord knows about a bot (same as status -v)",
     "The process and its liveness, memory against the limit and the alert, every measured\n"
     "figure, the bot's own stats (heap, external, event-loop lag, entries per cache) with\n"
     "their age, the last action.\nExamples:\n  memvisorctl show amayo",
     ArgKind::kBots, cmdStatus}},
    actionCommands(), std::vector<Command>{
    {"restart", "restart BOT|all [BOT...]", "Restart a bot gracefully (shutdown, then spawn)",
     "Examples:\n  memvisorctl restart amayo\n  memvisorctl restart all", ArgKind::kTargets,
     cmdLifecycle},
    {"stop", "stop BOT|all [BOT...]", "Stop a bot (it stays stopped until start)",
     "Examples:\n  memvisorctl stop amayo", ArgKind::kTargets, cmdLifecycle},
    {"start", "start BOT|all [BOT...]", "Start a stopped bot",
     "Examples:\n  memvisorctl start amayo", ArgKind::kTargets, cmdLifecycle},
    {"pid", "pid BOT|all", "Print a bot's pid (exit 1 when it is not running)",
     "Examples:\n  memvisorctl pid amayo\n  kill -0 \"$(memvisorctl pid amayo)\"", ArgKind::kBot,
     cmdPid},
    {"limit", "limit BOT [SIZE]", "Show a bot's memory limit, or change it at run time",
     "A changed limit is journalled and lasts until memvisord reloads its config file.\n"
     "Sizes: 512MiB, 512M, 1.5GiB (powers of 1024).\n"
     "Examples:\n  memvisorctl limit amayo\n  memvisorctl limit amayo 512MiB",
     ArgKind::kBotSize, cmdLimit},
    {"reload", "reload", "Re-read memvisord's config file",
     "On an invalid file memvisord keeps the old config; its explanation is printed and the\n"
     "exit code is 1.\nExamples:\n  memvisorctl reload",
     ArgKind::kNone, cmdReload},
    {"events", "events [BOT] [--follow] [--since DURATION]",
     "Show memvisord's journal: thresholds, actions, restarts, OOM kills",
     "Without --since, everything memvisord still holds in memory is shown.\n"
     "Examples:\n  memvisorctl events\n  memvisorctl events amayo --since 1h\n"
     "  memvisorctl events --follow --json",
     ArgKind::kEvents, cmdEvents},
    {"top", "top [BOT...]", "Live view, refreshed every second: memory over time, actions",
     "Keys: q quits. With more bots than panels fit the screen (and always past 40), one\n"
     "line per bot under a summary of counts, the closest to their limit first: arrows or\n"
     "j/k scroll, PgUp/PgDn (or space) by a page, g/G to the top/bottom.\n"
     "With --json, prints one status object per second instead.\n"
     "Examples:\n  memvisorctl top\n  memvisorctl top amayo",
     ArgKind::kBots, runTop},
    {"help", "help [COMMAND]", "Show the commands, or one command's help",
     "Examples:\n  memvisorctl help\n  memvisorctl help limit", ArgKind::kHelp, cmdHelp},
    {"quit", "quit", "Leave the shell", "", ArgKind::kShell, cmdQuit},
    {"exit", "exit", "Leave the shell", "", ArgKind::kShell, cmdQuit},
});

const char* kMainFooter =
    "With no command, memvisorctl starts an interactive shell (history, tab completion).\n"
    "\n"
    "Examples:\n"
    "  memvisorctl status\n"
    "  memvisorctl sweep amayo\n"
    "  memvisorctl limit amayo 512MiB\n"
    "  memvisorctl events --follow\n"
    "  memvisorctl --socket /tmp/memvisor/ctl.sock status --json\n"
    "\n"
    "Socket: --socket, else $MEMVISOR_CONTROL_SOCKET, else /run/memvisor/ctl.sock.\n"
    "Colour only on a terminal, never with NO_COLOR set.\n"
    "\n"
    "Exit codes:\n"
    "  0  success\n"
    "  1  an action or request failed (one line per bot says which)\n"
    "  2  usage error\n"
    "  3  cannot connect to memvisord (no socket, not running, connection lost, timeout)\n"
    "  4  not permitted (memvisord refused this user)\n";

void printCommandList(Context& ctx) {
  const Style st = ctx.style();
  *ctx.out << "Commands:\n";
  for (const auto& c : kCommands) {
    if (c.args == ArgKind::kShell && !ctx.in_shell) continue;
    std::string u = c.usage;
    u.resize(std::max<std::size_t>(u.size(), 44), ' ');
    *ctx.out << "  " << st.paint(u, Color::kBold) << c.summary << "\n";
  }
  *ctx.out << "Type help COMMAND for a command's options and examples.\n";
}

// roff escapes: a leading dot or quote would be a request, backslash an escape.
std::string roff(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
    line_start = c == '\n';
  }
  return out;
}

// The manual page, generated from the same table as --help: memvisorctl --man > memvisorctl.1
void printManPage(std::ostream& out) {
  out << ".TH MEMVISORCTL 1 \"2026\" \"memvisor 0.1.0\" \"memvisor manual\"\n"
      << ".SH NAME\nmemvisorctl \\- control memvisord, the memory supervisor for long-running "
         "bots\n"
      << ".SH SYNOPSIS\n.B memvisorctl\n[\\fB\\-\\-socket\\fR \\fIPATH\\fR] [\\fB\\-\\-json\\fR] "
         "[\\fB\\-\\-no\\-color\\fR] [\\fB\\-\\-timeout\\fR \\fIDURATION\\fR] "
         "[\\fICOMMAND\\fR [\\fIARGS\\fR...]]\n"
      << ".SH DESCRIPTION\nmemvisorctl talks to memvisord over its control socket, the way "
         "supervisorctl talks to supervisord. With no command it starts an interactive shell "
         "with history and tab completion of commands and bot names.\n"
      << ".SH COMMANDS\n";
  for (const auto& c : kCommands) {
    if (c.args == ArgKind::kShell) continue;
    out << ".TP\n.B " << roff(c.usage) << "\n" << roff(c.summary) << ".\n";
    if (*c.details) out << ".sp\n.nf\n" << roff(c.details) << "\n.fi\n";
  }
  out << ".SH OPTIONS\n"
      << ".TP\n.BI \\-\\-socket \" PATH\"\nControl socket (else $MEMVISOR_CONTROL_SOCKET, else "
      << roff(kDefaultSocket) << ").\n"
      << ".TP\n.B \\-\\-json\nMachine-readable output.\n"
      << ".TP\n.B \\-\\-no\\-color\nNo colour even on a terminal (NO_COLOR does the same).\n"
      << ".TP\n.BI \\-\\-timeout \" DURATION\"\nHow long to wait for memvisord (default 60s).\n"
      << ".SH EXIT STATUS\n"
      << ".TP\n0\nsuccess\n.TP\n1\nan action or request failed\n.TP\n2\nusage error\n"
      << ".TP\n3\ncannot connect to memvisord\n.TP\n4\nnot permitted\n"
      << ".SH ENVIRONMENT\n.TP\n.B MEMVISOR_CONTROL_SOCKET\nthe control socket\n"
      << ".TP\n.B NO_COLOR\nno colour when set\n"
      << ".TP\n.B MEMVISORCTL_HISTORY\nthe shell's history file (default ~/.memvisorctl_history)\n"
      << ".SH SEE ALSO\n.BR memvisord (8)\n";
}

}  // namespace

const std::vector<Command>& commandTable() { return kCommands; }

const Command* findCommand(std::string_view name) {
  for (const auto& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

Style Context::style() const { return Style(colorWanted(STDOUT_FILENO, no_color)); }
Style Context::errStyle() const { return Style(colorWanted(STDERR_FILENO, no_color)); }
bool Context::outIsTty() const { return ::isatty(STDOUT_FILENO) == 1; }

int reportError(Context& ctx, const Error& e) {
  if (ctx.json)
    *ctx.out << json{{"error", {{"code", e.code}, {"message", e.message}}}}.dump() << "\n";
  *ctx.err << ctx.errStyle().paint("Error:", Color::kRed) << " " << e.message << "\n";
  return exitCodeFor(e);
}

Result<Client> connectOrReport(Context& ctx, int& code) {
  auto c = Client::connect(
      ctx.socket, std::chrono::milliseconds(std::min<std::int64_t>(ctx.timeout_ms, 10000)));
  if (!c) code = reportError(ctx, c.error());
  return c;
}

std::vector<std::string> fetchBotNames(Context& ctx) {
  auto c = Client::connect(ctx.socket, std::chrono::milliseconds(2000));
  if (!c) return {};
  auto r = c->request(proto::StatusRequest{}, std::chrono::milliseconds(2000));
  std::vector<std::string> names;
  if (r) {
    if (const auto* s = std::get_if<proto::StatusResult>(&*r)) {
      for (const auto& b : s->bots) names.push_back(b.name);
    }
  }
  return names;
}

int runCommandLine(Context& base, const std::vector<std::string>& argv) {
  Context ctx = base;
  Invocation inv;
  std::string timeout_text;
  const Command* selected = nullptr;

  CLI::App app{"memvisorctl: control memvisord, the memory supervisor for long-running bots",
               "memvisorctl"};
  app.footer(kMainFooter);
  app.set_help_all_flag("--help-all", "Print the help of every command (the manual)");
  app.set_version_flag("--version", "memvisorctl 0.1.0 (protocol " +
                                        std::to_string(proto::kProtocolMajor) + "." +
                                        std::to_string(proto::kProtocolMinor) + ")");
  app.fallthrough();
  app.require_subcommand(0, 1);
  app.add_option("--socket", ctx.socket, "Control socket of memvisord")
      ->envname(kSocketEnv)
      ->default_str(kDefaultSocket);
  app.add_flag("--json", ctx.json, "Machine-readable output (JSON)");
  app.add_flag("--no-color", ctx.no_color, "No colour even on a terminal");
  app.add_option("--timeout", timeout_text, "How long to wait for memvisord (default 60s)");
  bool man = false;
  app.add_flag("--man", man, "Print the manual page (roff): memvisorctl --man | man -l -");

  for (const auto& cmd : kCommands) {
    if (cmd.args == ArgKind::kShell && !ctx.in_shell) continue;
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.summary);
    sub->footer(std::string(cmd.details) + (*cmd.details ? "\n" : "") +
                "Global options work here too: --json, --socket PATH, --timeout DURATION, "
                "--no-color.");
    sub->callback([&selected, &cmd] { selected = &cmd; });
    switch (cmd.args) {
      case ArgKind::kNone:
      case ArgKind::kShell:
        break;
      case ArgKind::kBots:
        sub->add_option("BOT", inv.args, "Bot names (default: all bots)");
        if (std::string_view(cmd.name) == "status") {
          sub->add_flag("-v,--verbose", inv.verbose, "Every figure, one block per bot");
        }
        break;
      case ArgKind::kTargets:
        sub->add_option("BOT", inv.args, "Bot names, or all");
        break;
      case ArgKind::kBot:
        sub->add_option("BOT", inv.args, "A bot name, or all");
        break;
      case ArgKind::kBotSize:
        sub->add_option("BOT SIZE", inv.args, "The bot, then the new limit (e.g. 512MiB)");
        break;
      case ArgKind::kEvents:
        sub->add_option("BOT", inv.args, "Only this bot's entries");
        sub->add_flag("-f,--follow", inv.follow, "Keep printing new entries as they happen");
        sub->add_option("--since", inv.since, "Only entries newer than this (30s, 10m, 2h, 1d)");
        break;
      case ArgKind::kHelp:
        sub->add_option("COMMAND", inv.topic, "A command");
        break;
    }
  }

  std::vector<std::string> rev(argv.rbegin(), argv.rend());
  try {
    app.parse(rev);
  } catch (const CLI::CallForAllHelp&) {
    // The manual: the main help, then every command's full help, all from the table.
    *ctx.out << app.help();
    for (const auto& cmd : kCommands) {
      if (cmd.args == ArgKind::kShell) continue;
      *ctx.out << "\n"
               << std::string(60, '-') << "\nmemvisorctl " << cmd.usage << "\n"
               << app.get_subcommand(cmd.name)->help("memvisorctl");
    }
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::ostringstream o, er;
    const int rc = app.exit(e, o, er);
    *ctx.out << o.str();
    *ctx.err << er.str();
    if (rc == 0) return kExitOk;  // --help, --help-all, --version
    return kExitUsage;
  }
  if (!timeout_text.empty()) {
    auto d = memvisor::parseDuration(timeout_text);
    if (!d) {
      *ctx.err << "Error: --timeout: " << d.error().message << "\n";
      return kExitUsage;
    }
    ctx.timeout_ms = d->count();
  }
  if (man) {
    printManPage(*ctx.out);
    return kExitOk;
  }
  if (ctx.socket.empty()) ctx.socket = kDefaultSocket;
  if (selected == nullptr) {
    if (ctx.in_shell) return kExitOk;
    base = ctx;
    return runShell(base);
  }
  if (selected->args == ArgKind::kHelp) {
    if (inv.topic.empty()) {
      printCommandList(ctx);
      return kExitOk;
    }
    const Command* c = findCommand(inv.topic);
    if (c == nullptr || (c->args == ArgKind::kShell && !ctx.in_shell)) {
      *ctx.err << "Error: no command named \"" << inv.topic << "\"\n";
      printCommandList(ctx);
      return kExitUsage;
    }
    *ctx.out << app.get_subcommand(c->name)->help("memvisorctl");
    return kExitOk;
  }
  return selected->run(ctx, *selected, inv);
}

}  // namespace memvisor::ctl
