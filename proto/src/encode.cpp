// JSON encoding of protocol frames: one function per message type ("type" first, optional
// fields only when present); never throws, even on invalid UTF-8.
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "memvisor/proto/codec.hpp"

namespace memvisor::proto {
namespace {

using ojson = nlohmann::ordered_json;  // keeps "type" first in what we send

// ---- encoding ----------------------------------------------------------------------------

void putFigures(ojson& j, const MemFigures& f) {
  if (f.rss_bytes) j["rss_bytes"] = *f.rss_bytes;
  if (f.heap_used_bytes) j["heap_used_bytes"] = *f.heap_used_bytes;
  if (f.heap_total_bytes) j["heap_total_bytes"] = *f.heap_total_bytes;
  if (f.external_bytes) j["external_bytes"] = *f.external_bytes;
  if (f.heap_limit_bytes) j["heap_limit_bytes"] = *f.heap_limit_bytes;
}

// The members of `stats` (also the figures of a status' bot_stats).
void putStats(ojson& j, const Stats& m) {
  putFigures(j, m.mem);
  if (m.event_loop_lag_ms) j["event_loop_lag_ms"] = *m.event_loop_lag_ms;
  if (!m.caches.empty()) {
    ojson c = ojson::object();
    for (const auto& [k, v] : m.caches) c[k] = v;
    j["caches"] = std::move(c);
  }
  if (m.uptime_ms) j["uptime_ms"] = *m.uptime_ms;
}

ojson figuresObject(const MemFigures& f) {
  ojson j = ojson::object();
  putFigures(j, f);
  return j;
}

ojson versionObject(const Version& v) { return ojson{{"major", v.major}, {"minor", v.minor}}; }

ojson stringMap(const std::map<std::string, std::string>& m) {
  ojson j = ojson::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

ojson outcomes(const std::vector<BotOutcome>& results) {
  ojson arr = ojson::array();
  for (const auto& r : results) {
    ojson o{{"bot", r.bot}, {"ok", r.ok}};
    if (!r.code.empty()) o["code"] = r.code;
    if (!r.message.empty()) o["message"] = r.message;
    o["freed_bytes"] = r.freed_bytes;
    o["duration_ms"] = r.duration_ms;
    arr.push_back(std::move(o));
  }
  return arr;
}

ojson botStatus(const BotStatus& b) {
  ojson o{{"name", b.name},
          {"state", b.state},
          {"memory_state", b.memory_state},
          {"pid", b.pid},
          {"uptime_ms", b.uptime_ms},
          {"connected", b.connected},
          {"metric", b.metric},
          {"limit_bytes", b.limit_bytes},
          {"limit_source", b.limit_source}};
  if (b.rss_bytes) o["rss_bytes"] = *b.rss_bytes;
  if (b.pss_bytes) o["pss_bytes"] = *b.pss_bytes;
  if (b.working_set_bytes) o["working_set_bytes"] = *b.working_set_bytes;
  if (b.cgroup_usage_bytes) o["cgroup_usage_bytes"] = *b.cgroup_usage_bytes;
  if (b.metric_bytes) o["metric_bytes"] = *b.metric_bytes;
  if (b.last_action) {
    const LastAction& a = *b.last_action;
    ojson la{{"action", a.action}, {"ok", a.ok}, {"freed_bytes", a.freed_bytes},
             {"at_ms", a.at_ms}};
    if (!a.reason.empty()) la["reason"] = a.reason;
    o["last_action"] = std::move(la);
  }
  o["restarts"] = b.restarts;
  o["oom_kills"] = b.oom_kills;
  if (!b.thresholds_bytes.empty()) o["thresholds_bytes"] = b.thresholds_bytes;
  if (b.detection) o["detection"] = *b.detection;
  if (b.detection_bound_ms) o["detection_bound_ms"] = *b.detection_bound_ms;
  if (b.pss_age_ms) o["pss_age_ms"] = *b.pss_age_ms;
  if (b.bot_stats) {
    ojson st{{"age_ms", b.bot_stats->age_ms}, {"stale", b.bot_stats->stale}};
    putStats(st, b.bot_stats->stats);
    o["bot_stats"] = std::move(st);
  }
  if (b.liveness) o["liveness"] = *b.liveness;
  if (b.liveness_reason) o["liveness_reason"] = *b.liveness_reason;
  if (b.ping_ms) o["ping_ms"] = *b.ping_ms;
  if (b.memory_alert) o["memory_alert"] = *b.memory_alert;
  return o;
}

struct Encoder {
  ojson operator()(const Hello& m) const {
    ojson j{{"type", "hello"}, {"version", versionObject(m.version)},
            {"role", toString(m.role)}, {"pid", m.pid}, {"name", m.name}};
    if (!m.capabilities.empty()) j["capabilities"] = m.capabilities;
    return j;
  }
  ojson operator()(const Welcome& m) const {
    ojson j{{"type", "welcome"}, {"version", versionObject(m.version)}, {"pid", m.pid},
            {"name", m.name}};
    if (!m.capabilities.empty()) j["capabilities"] = m.capabilities;
    j["stats_interval_ms"] = m.stats_interval_ms;
    return j;
  }
  ojson operator()(const ErrorMsg& m) const {
    ojson j{{"type", "error"}};
    if (m.id) j["id"] = *m.id;
    j["code"] = m.code;
    j["message"] = m.message;
    return j;
  }
  ojson operator()(const Ack& m) const {
    ojson j{{"type", "ack"}, {"id", m.id}};
    if (!m.message.empty()) j["message"] = m.message;
    return j;
  }
  ojson operator()(const ActionRequest& m) const {
    ojson j{{"type", toString(m.action)},
            {"id", m.id},
            {"urgency", toString(m.urgency)},
            {"deadline_ms", m.deadline_ms}};
    if (m.target_bytes) j["target_bytes"] = *m.target_bytes;
    if (m.headroom_bytes) j["headroom_bytes"] = *m.headroom_bytes;
    return j;
  }
  ojson operator()(const Ping& m) const { return ojson{{"type", "ping"}, {"id", m.id}}; }
  ojson operator()(const Shutdown& m) const {
    ojson j{{"type", "shutdown"}, {"id", m.id}, {"deadline_ms", m.deadline_ms}};
    if (!m.reason.empty()) j["reason"] = m.reason;
    return j;
  }
  ojson operator()(const ActionResult& m) const {
    ojson j{{"type", "action_result"}, {"id", m.id},           {"action", toString(m.action)},
            {"ok", m.ok},              {"freed_bytes", m.freed_bytes}, {"duration_ms", m.duration_ms}};
    if (m.late) j["late"] = true;
    if (m.before != MemFigures{}) j["before"] = figuresObject(m.before);
    if (m.after != MemFigures{}) j["after"] = figuresObject(m.after);
    if (!m.details.empty()) {
      ojson arr = ojson::array();
      for (const auto& d : m.details) {
        ojson o{{"name", d.name}, {"freed_bytes", d.freed_bytes}};
        if (d.entries_before) o["entries_before"] = *d.entries_before;
        if (d.entries_after) o["entries_after"] = *d.entries_after;
        arr.push_back(std::move(o));
      }
      j["details"] = std::move(arr);
    }
    if (!m.error.empty()) j["error"] = m.error;
    if (m.heap_freed_bytes) j["heap_freed_bytes"] = *m.heap_freed_bytes;
    if (m.target_met) j["target_met"] = *m.target_met;
    return j;
  }
  ojson operator()(const Pong& m) const {
    ojson j{{"type", "pong"}, {"id", m.id}};
    if (m.uptime_ms) j["uptime_ms"] = *m.uptime_ms;
    return j;
  }
  ojson operator()(const Stats& m) const {
    ojson j{{"type", "stats"}};
    putStats(j, m);
    return j;
  }
  ojson operator()(const Event& m) const {
    ojson j{{"type", "event"}, {"level", toString(m.level)}, {"message", m.message}};
    if (!m.fields.empty()) j["fields"] = stringMap(m.fields);
    return j;
  }
  ojson operator()(const StatusRequest& m) const {
    ojson j{{"type", "status"}, {"id", m.id}};
    if (!m.bots.empty()) j["bots"] = m.bots;
    return j;
  }
  ojson operator()(const StatusResult& m) const {
    ojson arr = ojson::array();
    for (const auto& b : m.bots) arr.push_back(botStatus(b));
    ojson j{{"type", "status_result"}, {"id", m.id}, {"bots", std::move(arr)}};
    if (m.more) j["more"] = true;
    return j;
  }
  ojson operator()(const RunRequest& m) const {
    return ojson{{"type", "run"}, {"id", m.id}, {"bot", m.bot}, {"action", toString(m.action)}};
  }
  ojson operator()(const RunResult& m) const {
    ojson j{{"type", "run_result"}, {"id", m.id}, {"results", outcomes(m.results)}};
    if (m.more) j["more"] = true;
    return j;
  }
  ojson operator()(const LifecycleRequest& m) const {
    return ojson{{"type", "lifecycle"}, {"id", m.id}, {"bot", m.bot}, {"op", toString(m.op)}};
  }
  ojson operator()(const LifecycleResult& m) const {
    ojson j{{"type", "lifecycle_result"}, {"id", m.id}, {"results", outcomes(m.results)}};
    if (m.more) j["more"] = true;
    return j;
  }
  ojson operator()(const LimitRequest& m) const {
    ojson j{{"type", "limit"}, {"id", m.id}, {"bot", m.bot}};
    if (m.limit_bytes) j["limit_bytes"] = *m.limit_bytes;
    return j;
  }
  ojson operator()(const LimitResult& m) const {
    return ojson{{"type", "limit_result"},
                 {"id", m.id},
                 {"bot", m.bot},
                 {"limit_bytes", m.limit_bytes},
                 {"source", m.source}};
  }
  ojson operator()(const ReloadRequest& m) const {
    return ojson{{"type", "reload"}, {"id", m.id}};
  }
  ojson operator()(const ReloadResult& m) const {
    ojson j{{"type", "reload_result"}, {"id", m.id}, {"ok", m.ok}};
    if (!m.errors.empty()) j["errors"] = m.errors;
    if (!m.changes.empty()) j["changes"] = m.changes;
    return j;
  }
  ojson operator()(const Subscribe& m) const {
    ojson j{{"type", "subscribe"}, {"id", m.id}};
    if (m.bot) j["bot"] = *m.bot;
    if (m.since_ms) j["since_ms"] = *m.since_ms;
    if (m.follow) j["follow"] = true;
    return j;
  }
  ojson operator()(const JournalEntry& m) const {
    ojson j{{"type", "journal"}, {"ts_ms", m.ts_ms}};
    if (!m.bot.empty()) j["bot"] = m.bot;
    j["kind"] = m.kind;
    j["level"] = toString(m.level);
    j["message"] = m.message;
    if (!m.fields.empty()) j["fields"] = stringMap(m.fields);
    return j;
  }
};

}  // namespace

std::string encode(const Message& m) {
  // replace: a struct holding invalid UTF-8 must not make the encoder throw.
  return std::visit(Encoder{}, m).dump(-1, ' ', false, ojson::error_handler_t::replace);
}

std::string encodeFrame(const Message& m) { return encode(m) + "\n"; }

}  // namespace memvisor::proto
