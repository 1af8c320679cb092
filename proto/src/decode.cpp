// Validating decoding of protocol frames. Decoding never throws: nlohmann is used in its
// non-throwing parse mode and every value's JSON type is checked before it is read (fields.hpp).
// Unknown keys are ignored (minor-version growth).
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "fields.hpp"
#include "memvisor/proto/codec.hpp"

namespace memvisor::proto {
namespace {

using namespace detail;


constexpr double kMaxMs = 1e12;  // durations and lags: anything finite up to ~30 years

void readFigures(Fields& f, MemFigures& m) {
  f.optInt("rss_bytes", m.rss_bytes, 0, kMaxSafe);
  f.optInt("heap_used_bytes", m.heap_used_bytes, 0, kMaxSafe);
  f.optInt("heap_total_bytes", m.heap_total_bytes, 0, kMaxSafe);
  f.optInt("external_bytes", m.external_bytes, 0, kMaxSafe);
  f.optInt("heap_limit_bytes", m.heap_limit_bytes, 0, kMaxSafe);
}

void readVersion(Fields& f, Version& v) {
  f.object("version", true, [&](Fields& sub) {
    sub.reqInt("major", v.major, 0, kMaxVersionPart);
    sub.reqInt("minor", v.minor, 0, kMaxVersionPart);
  });
}

void readOutcomes(Fields& f, std::vector<BotOutcome>& out) {
  f.objectList("results", true, [&](Fields& sub) {
    BotOutcome o;
    sub.reqStr("bot", o.bot);
    sub.reqBool("ok", o.ok);
    sub.defStr("code", o.code);
    sub.defStr("message", o.message);
    sub.defInt("freed_bytes", o.freed_bytes, -kMaxSafe, kMaxSafe);
    sub.defNum("duration_ms", o.duration_ms, 0, kMaxMs);
    out.push_back(std::move(o));
  });
}

constexpr const char* kUrgencyNames = "low|normal|high|critical";
const char* const kActionNames = actionNames(ActionSet::kToBot).c_str();
constexpr const char* kLevelNames = "debug|info|warn|error";

using Decoder = Message (*)(Fields&, const std::string& type);

Message decodeHello(Fields& f, const std::string&) {
  Hello m;
  readVersion(f, m.version);
  f.reqEnum("role", m.role, parseRole, "bot|control");
  f.reqInt("pid", m.pid, 0, kMaxPid);
  f.reqStr("name", m.name);  // may be empty: memvisord knows its bots by SO_PEERCRED
  f.strList("capabilities", m.capabilities, false);
  return m;
}
Message decodeWelcome(Fields& f, const std::string&) {
  Welcome m;
  readVersion(f, m.version);
  f.reqInt("pid", m.pid, 0, kMaxPid);
  f.reqStr("name", m.name);
  f.strList("capabilities", m.capabilities, false);
  f.defInt("stats_interval_ms", m.stats_interval_ms, 100, 86400000);
  return m;
}
Message decodeError(Fields& f, const std::string&) {
  ErrorMsg m;
  f.optId(m.id);
  f.reqStr("code", m.code, true);
  f.reqStr("message", m.message);
  return m;
}
Message decodeAck(Fields& f, const std::string&) {
  Ack m;
  f.reqId(m.id);
  f.defStr("message", m.message);
  return m;
}
Message decodeAction(Fields& f, const std::string& type) {
  ActionRequest m;
  m.action = parseAction(type).value_or(Action::kTrim);  // the table only routes known names
  f.reqId(m.id);
  f.reqEnum("urgency", m.urgency, parseUrgency, kUrgencyNames);
  f.reqInt("deadline_ms", m.deadline_ms, 1, kMaxDeadlineMs);
  f.optInt("target_bytes", m.target_bytes, 0, kMaxSafe);
  f.optInt("headroom_bytes", m.headroom_bytes, 0, kMaxSafe);
  return m;
}
Message decodePing(Fields& f, const std::string&) {
  Ping m;
  f.reqId(m.id);
  return m;
}
Message decodeShutdown(Fields& f, const std::string&) {
  Shutdown m;
  f.reqId(m.id);
  f.reqInt("deadline_ms", m.deadline_ms, 1, kMaxDeadlineMs);
  f.defStr("reason", m.reason);
  return m;
}
Message decodeActionResult(Fields& f, const std::string&) {
  ActionResult m;
  f.reqId(m.id);
  f.reqEnum("action", m.action, parseAction, kActionNames);
  f.reqBool("ok", m.ok);
  f.reqInt("freed_bytes", m.freed_bytes, -kMaxSafe, kMaxSafe);
  f.reqNum("duration_ms", m.duration_ms, 0, kMaxMs);
  f.defBool("late", m.late);
  f.object("before", false, [&](Fields& sub) { readFigures(sub, m.before); });
  f.object("after", false, [&](Fields& sub) { readFigures(sub, m.after); });
  f.objectList("details", false, [&](Fields& sub) {
    CacheDetail d;
    sub.reqStr("name", d.name, true);
    sub.reqInt("freed_bytes", d.freed_bytes, -kMaxSafe, kMaxSafe);
    sub.optInt("entries_before", d.entries_before, 0, kMaxSafe);
    sub.optInt("entries_after", d.entries_after, 0, kMaxSafe);
    m.details.push_back(std::move(d));
  });
  f.defStr("error", m.error);
  f.optInt("heap_freed_bytes", m.heap_freed_bytes, -kMaxSafe, kMaxSafe);
  f.optBool("target_met", m.target_met);
  return m;
}
Message decodePong(Fields& f, const std::string&) {
  Pong m;
  f.reqId(m.id);
  f.optInt("uptime_ms", m.uptime_ms, 0, kMaxSafe);
  return m;
}
void readStats(Fields& f, Stats& m) {
  readFigures(f, m.mem);
  f.optNum("event_loop_lag_ms", m.event_loop_lag_ms, 0, kMaxMs);
  f.intMap("caches", m.caches, 0, kMaxSafe);
  f.optInt("uptime_ms", m.uptime_ms, 0, kMaxSafe);
}
Message decodeStats(Fields& f, const std::string&) {
  Stats m;
  readStats(f, m);
  return m;
}
Message decodeEvent(Fields& f, const std::string&) {
  Event m;
  f.reqEnum("level", m.level, parseLevel, kLevelNames);
  f.reqStr("message", m.message);
  f.strMap("fields", m.fields);
  return m;
}
Message decodeStatus(Fields& f, const std::string&) {
  StatusRequest m;
  f.reqId(m.id);
  f.strList("bots", m.bots, false);
  return m;
}
Message decodeStatusResult(Fields& f, const std::string&) {
  StatusResult m;
  f.reqId(m.id);
  f.objectList("bots", true, [&](Fields& sub) {
    BotStatus b;
    sub.reqStr("name", b.name, true);
    sub.reqStr("state", b.state, true);
    sub.reqStr("memory_state", b.memory_state, true);
    sub.reqInt("pid", b.pid, 0, kMaxPid);
    sub.reqInt("uptime_ms", b.uptime_ms, 0, kMaxSafe);
    sub.reqBool("connected", b.connected);
    sub.reqStr("metric", b.metric, true);
    sub.reqInt("limit_bytes", b.limit_bytes, 0, kMaxSafe);
    sub.reqStr("limit_source", b.limit_source, true);
    sub.optInt("rss_bytes", b.rss_bytes, 0, kMaxSafe);
    sub.optInt("pss_bytes", b.pss_bytes, 0, kMaxSafe);
    sub.optInt("working_set_bytes", b.working_set_bytes, 0, kMaxSafe);
    sub.optInt("cgroup_usage_bytes", b.cgroup_usage_bytes, 0, kMaxSafe);
    sub.optInt("metric_bytes", b.metric_bytes, 0, kMaxSafe);
    sub.object("last_action", false, [&](Fields& la) {
      LastAction a;
      la.reqStr("action", a.action, true);
      la.reqBool("ok", a.ok);
      la.reqInt("freed_bytes", a.freed_bytes, -kMaxSafe, kMaxSafe);
      la.reqInt("at_ms", a.at_ms, 0, kMaxSafe);
      la.defStr("reason", a.reason);
      b.last_action = std::move(a);
    });
    sub.reqInt("restarts", b.restarts, 0, kMaxSafe);
    sub.reqInt("oom_kills", b.oom_kills, 0, kMaxSafe);
    sub.intList("thresholds_bytes", b.thresholds_bytes, 0, kMaxSafe);
    sub.optStr("detection", b.detection);
    sub.optInt("detection_bound_ms", b.detection_bound_ms, 0, kMaxSafe);
    sub.optInt("pss_age_ms", b.pss_age_ms, 0, kMaxSafe);
    sub.object("bot_stats", false, [&](Fields& bs) {
      BotStats st;
      bs.reqInt("age_ms", st.age_ms, 0, kMaxSafe);
      bs.reqBool("stale", st.stale);
      readStats(bs, st.stats);
      b.bot_stats = std::move(st);
    });
    sub.optStr("liveness", b.liveness);
    sub.optStr("liveness_reason", b.liveness_reason);
    sub.optNum("ping_ms", b.ping_ms, 0, kMaxMs);
    sub.optBool("memory_alert", b.memory_alert);
    m.bots.push_back(std::move(b));
  });
  f.defBool("more", m.more);
  return m;
}
Message decodeRun(Fields& f, const std::string&) {
  RunRequest m;
  f.reqId(m.id);
  f.reqStr("bot", m.bot, true);
  f.reqEnum("action", m.action, parseAction, kActionNames);
  return m;
}
Message decodeRunResult(Fields& f, const std::string&) {
  RunResult m;
  f.reqId(m.id);
  readOutcomes(f, m.results);
  f.defBool("more", m.more);
  return m;
}
Message decodeLifecycle(Fields& f, const std::string&) {
  LifecycleRequest m;
  f.reqId(m.id);
  f.reqStr("bot", m.bot, true);
  f.reqEnum("op", m.op, parseLifecycleOp, "start|stop|restart");
  return m;
}
Message decodeLifecycleResult(Fields& f, const std::string&) {
  LifecycleResult m;
  f.reqId(m.id);
  readOutcomes(f, m.results);
  f.defBool("more", m.more);
  return m;
}
Message decodeLimit(Fields& f, const std::string&) {
  LimitRequest m;
  f.reqId(m.id);
  f.reqStr("bot", m.bot, true);
  f.optInt("limit_bytes", m.limit_bytes, 1, kMaxSafe);
  return m;
}
Message decodeLimitResult(Fields& f, const std::string&) {
  LimitResult m;
  f.reqId(m.id);
  f.reqStr("bot", m.bot, true);
  f.reqInt("limit_bytes", m.limit_bytes, 0, kMaxSafe);
  f.reqStr("source", m.source, true);
  return m;
}
Message decodeReload(Fields& f, const std::string&) {
  ReloadRequest m;
  f.reqId(m.id);
  return m;
}
Message decodeReloadResult(Fields& f, const std::string&) {
  ReloadResult m;
  f.reqId(m.id);
  f.reqBool("ok", m.ok);
  f.strList("errors", m.errors, false);
  f.strList("changes", m.changes, false);
  return m;
}
Message decodeSubscribe(Fields& f, const std::string&) {
  Subscribe m;
  f.reqId(m.id);
  f.optStr("bot", m.bot);
  f.optInt("since_ms", m.since_ms, 0, kMaxSafe);
  f.defBool("follow", m.follow);
  return m;
}
Message decodeJournal(Fields& f, const std::string&) {
  JournalEntry m;
  f.reqInt("ts_ms", m.ts_ms, 0, kMaxSafe);
  f.defStr("bot", m.bot);
  f.reqStr("kind", m.kind, true);
  f.reqEnum("level", m.level, parseLevel, kLevelNames);
  f.reqStr("message", m.message);
  f.strMap("fields", m.fields);
  return m;
}

struct TypeEntry {
  const char* name;
  Decoder decode;
};
constexpr TypeEntry kTypes[] = {
    {"hello", decodeHello},
    {"welcome", decodeWelcome},
    {"error", decodeError},
    {"ack", decodeAck},
    {"ping", decodePing},
    {"shutdown", decodeShutdown},
    {"action_result", decodeActionResult},
    {"pong", decodePong},
    {"stats", decodeStats},
    {"event", decodeEvent},
    {"status", decodeStatus},
    {"status_result", decodeStatusResult},
    {"run", decodeRun},
    {"run_result", decodeRunResult},
    {"lifecycle", decodeLifecycle},
    {"lifecycle_result", decodeLifecycleResult},
    {"limit", decodeLimit},
    {"limit_result", decodeLimitResult},
    {"reload", decodeReload},
    {"reload_result", decodeReloadResult},
    {"subscribe", decodeSubscribe},
    {"journal", decodeJournal},
};

// Rejects nesting deeper than kMaxJsonDepth before nlohmann sees the frame, so the parser's
// stack and the value tree stay small whatever the input.
bool nestingWithinLimit(std::string_view s) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : s) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

Error badJson(const std::string& why) { return {errc::kBadJson, "frame: " + why}; }

}  // namespace

Result<Message> decode(std::string_view frame) {
  if (frame.size() > kMaxFrameBytes) {
    return Error{errc::kFrameTooLarge, "frame: " + std::to_string(frame.size()) +
                                           " bytes exceeds the limit of " +
                                           std::to_string(kMaxFrameBytes)};
  }
  if (frame.size() >= 3 && frame.substr(0, 3) == "\xEF\xBB\xBF") {
    return badJson("a byte order mark is not allowed");
  }
  if (!nestingWithinLimit(frame)) {
    return badJson("nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  const json j = json::parse(frame.begin(), frame.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return badJson("not valid JSON (or not UTF-8)");
  if (!j.is_object()) return badJson(std::string("must be a JSON object, got ") + jsonTypeName(j));
  const auto t = j.find("type");
  if (t == j.end() || t->is_null()) {
    return Error{errc::kMissingField, "frame: missing field \"type\""};
  }
  if (!t->is_string()) {
    return Error{errc::kBadField,
                 std::string("frame: field \"type\": must be a string, got ") + jsonTypeName(*t)};
  }
  const std::string& type = t->get_ref<const std::string&>();
  // The action requests' types are the table's names of actions sent to the bot.
  if (findAction(type, ActionSet::kToBot)) {
    Fields fields(j, type);
    Message m = decodeAction(fields, type);
    if (fields.failed()) return fields.error();
    return m;
  }
  for (const auto& entry : kTypes) {
    if (type == entry.name) {
      Fields fields(j, type);
      Message m = entry.decode(fields, type);
      if (fields.failed()) return fields.error();
      return m;
    }
  }
  return Error{errc::kUnknownType, "frame: unknown message type " + describe(*t)};
}

}  // namespace memvisor::proto
