// The handlers of memvisorctl's commands (status, actions, lifecycle, pid, limit, reload,
// events): each sends its request over a Client and prints the answer, as text or --json.
// The table that names them, the help and the dispatch are in commands.cpp.
#include "handlers.hpp"

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "memvisor/logfmt.hpp"
#include "memvisor/proto/codec.hpp"
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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

// ---- pid, limit, reload ----------------------------------------------------------------

}  // namespace

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

namespace {

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

}  // namespace

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


}  // namespace memvisor::ctl
