// JSON encoding and validating decoding of protocol frames, and the handshake order rules.
// Decoding never throws: nlohmann is used in its non-throwing parse mode and every value's
// JSON type is checked before it is read. Unknown keys are ignored (minor-version growth).
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "memvisor/proto/codec.hpp"

namespace memvisor::proto {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;  // keeps "type" first in what we send

constexpr std::int64_t kMaxSafe = kMaxSafeInteger;
constexpr std::int64_t kMaxDeadlineMs = 600000;
constexpr std::int64_t kMaxPid = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t kMaxVersionPart = 65535;

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

// ---- decoding ----------------------------------------------------------------------------

const char* jsonTypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "value";
  }
}

// A short, printable rendering of an offending value for error messages.
std::string describe(const json& v) {
  constexpr std::size_t kMax = 40;
  if (v.is_string()) {
    std::string s = v.get_ref<const std::string&>();
    if (s.size() > kMax) {
      std::size_t cut = kMax;
      // Never split a UTF-8 sequence: back up over continuation bytes.
      while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
      s.resize(cut);
      s += "...";
    }
    return json(s).dump(-1, ' ', true, json::error_handler_t::replace);
  }
  if (v.is_number() || v.is_boolean() || v.is_null()) return v.dump();
  return jsonTypeName(v);
}

// Reads the fields of one JSON object with type and range checks. The first failure is
// kept and later reads become no-ops, so decoders read straight through without branching.
class Fields {
 public:
  Fields(const json& obj, const std::string& type, std::string prefix = "")
      : obj_(obj), type_(type), prefix_(std::move(prefix)) {}

  bool failed() const { return err_.has_value(); }
  Error error() const { return *err_; }
  void fail(Error e) {
    if (!err_) err_ = std::move(e);
  }

  void reqId(std::uint64_t& out) { id("id", out, true); }
  void optId(std::optional<std::uint64_t>& out) {
    std::uint64_t v = 0;
    if (id("id", v, false)) out = v;
  }

  void reqInt(const char* key, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
    integer(key, out, lo, hi, true);
  }
  void optInt(const char* key, std::optional<std::int64_t>& out, std::int64_t lo,
              std::int64_t hi) {
    std::int64_t v = 0;
    if (integer(key, v, lo, hi, false)) out = v;
  }
  // Absent leaves `out` at its default.
  void defInt(const char* key, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
    integer(key, out, lo, hi, false);
  }
  void reqInt(const char* key, int& out, std::int64_t lo, std::int64_t hi) {
    std::int64_t v = 0;
    if (integer(key, v, lo, hi, true)) out = static_cast<int>(v);
  }

  void reqNum(const char* key, double& out, double lo, double hi) { number(key, out, lo, hi, true); }
  void defNum(const char* key, double& out, double lo, double hi) { number(key, out, lo, hi, false); }
  void optNum(const char* key, std::optional<double>& out, double lo, double hi) {
    double v = 0;
    if (number(key, v, lo, hi, false)) out = v;
  }

  void reqStr(const char* key, std::string& out, bool non_empty = false) {
    string(key, out, true, non_empty);
  }
  void defStr(const char* key, std::string& out) { string(key, out, false, false); }
  void optStr(const char* key, std::optional<std::string>& out) {
    std::string v;
    if (string(key, v, false, false)) out = std::move(v);
  }

  void reqBool(const char* key, bool& out) { boolean(key, out, true); }
  void defBool(const char* key, bool& out) { boolean(key, out, false); }
  void optBool(const char* key, std::optional<bool>& out) {
    bool v = false;
    if (boolean(key, v, false)) out = v;
  }

  template <typename E>
  void reqEnum(const char* key, E& out, std::optional<E> (*parse)(std::string_view),
               const char* allowed) {
    const json* v = find(key, true, json::value_t::string, "a string");
    if (!v) return;
    const auto parsed = parse(v->get_ref<const std::string&>());
    if (!parsed) {
      fail({errc::kOutOfRange, where(key) + "must be one of " + allowed + ", got " + describe(*v)});
      return;
    }
    out = *parsed;
  }

  void strList(const char* key, std::vector<std::string>& out, bool required) {
    const json* v = find(key, required, json::value_t::array, "an array of strings");
    if (!v) return;
    for (std::size_t i = 0; i < v->size(); ++i) {
      const json& e = (*v)[i];
      if (!e.is_string()) {
        fail(badType(path(key, i), "a string", e));
        return;
      }
      out.push_back(e.get_ref<const std::string&>());
    }
  }

  void intList(const char* key, std::vector<std::int64_t>& out, std::int64_t lo, std::int64_t hi) {
    const json* v = find(key, false, json::value_t::array, "an array of integers");
    if (!v) return;
    for (std::size_t i = 0; i < v->size(); ++i) {
      std::int64_t n = 0;
      if (!checkInt((*v)[i], path(key, i), lo, hi, n)) return;
      out.push_back(n);
    }
  }

  void strMap(const char* key, std::map<std::string, std::string>& out) {
    const json* v = find(key, false, json::value_t::object, "an object of strings");
    if (!v) return;
    for (const auto& [k, e] : v->items()) {
      if (!e.is_string()) {
        fail(badType(std::string(key) + "." + k, "a string", e));
        return;
      }
      out[k] = e.get_ref<const std::string&>();
    }
  }

  void intMap(const char* key, std::map<std::string, std::int64_t>& out, std::int64_t lo,
              std::int64_t hi) {
    const json* v = find(key, false, json::value_t::object, "an object of integers");
    if (!v) return;
    for (const auto& [k, e] : v->items()) {
      std::int64_t n = 0;
      if (!checkInt(e, std::string(key) + "." + k, lo, hi, n)) return;
      out[k] = n;
    }
  }

  // Calls fn(Fields&) on a nested object; `required` false means absent is fine.
  template <typename Fn>
  bool object(const char* key, bool required, Fn&& fn) {
    const json* v = find(key, required, json::value_t::object, "an object");
    if (!v) return false;
    Fields sub(*v, type_, prefix_ + key + ".");
    fn(sub);
    if (sub.failed()) fail(sub.error());
    return !sub.failed();
  }

  // Calls fn(Fields&) on each object of an array.
  template <typename Fn>
  void objectList(const char* key, bool required, Fn&& fn) {
    const json* v = find(key, required, json::value_t::array, "an array of objects");
    if (!v) return;
    for (std::size_t i = 0; i < v->size() && !failed(); ++i) {
      const json& e = (*v)[i];
      if (!e.is_object()) {
        fail(badType(path(key, i), "an object", e));
        return;
      }
      Fields sub(e, type_, prefix_ + path(key, i) + ".");
      fn(sub);
      if (sub.failed()) fail(sub.error());
    }
  }

 private:
  std::string where(const std::string& key) const {
    return type_ + ": field \"" + prefix_ + key + "\": ";
  }
  static std::string path(const char* key, std::size_t i) {
    return std::string(key) + "[" + std::to_string(i) + "]";
  }
  Error badType(const std::string& key, const char* want, const json& got) const {
    return {errc::kBadField, where(key) + "must be " + want + ", got " + jsonTypeName(got)};
  }

  // Finds `key`; null counts as absent. Returns nullptr when absent or on error.
  const json* find(const char* key, bool required, json::value_t want, const char* want_name) {
    if (failed()) return nullptr;
    const auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      if (required) {
        fail({errc::kMissingField, type_ + ": missing field \"" + prefix_ + key + "\""});
      }
      return nullptr;
    }
    if (it->type() != want) {
      fail(badType(key, want_name, *it));
      return nullptr;
    }
    return &*it;
  }

  // Integers may arrive as any JSON number with an integral value (2000, 2000.0, 2e3):
  // peers that hold numbers as doubles cannot tell those spellings apart.
  bool checkInt(const json& v, const std::string& key, std::int64_t lo, std::int64_t hi,
                std::int64_t& out) {
    if (!v.is_number()) {
      fail(badType(key, "an integer", v));
      return false;
    }
    bool in_range = false;
    std::int64_t n = 0;
    if (v.is_number_unsigned()) {
      const std::uint64_t u = v.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(hi)) {  // hi >= 0 for every field
        n = static_cast<std::int64_t>(u);
        in_range = n >= lo;
      }
    } else if (v.is_number_integer()) {
      n = v.get<std::int64_t>();
      in_range = n >= lo && n <= hi;
    } else {
      const double d = v.get<double>();
      if (!std::isfinite(d) || std::trunc(d) != d) {
        fail(badType(key, "an integer", v));
        return false;
      }
      // |lo|, |hi| <= 2^53: the comparison is exact and the cast below cannot overflow.
      in_range = d >= static_cast<double>(lo) && d <= static_cast<double>(hi);
      if (in_range) n = static_cast<std::int64_t>(d);
    }
    if (!in_range) {
      fail({errc::kOutOfRange, where(key) + "must be " + std::to_string(lo) + ".." +
                                   std::to_string(hi) + ", got " + describe(v)});
      return false;
    }
    out = n;
    return true;
  }

  bool integer(const char* key, std::int64_t& out, std::int64_t lo, std::int64_t hi,
               bool required) {
    if (failed()) return false;
    const auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      if (required) {
        fail({errc::kMissingField, type_ + ": missing field \"" + prefix_ + key + "\""});
      }
      return false;
    }
    return checkInt(*it, key, lo, hi, out);
  }

  bool id(const char* key, std::uint64_t& out, bool required) {
    std::int64_t v = 0;
    if (!integer(key, v, 0, kMaxSafe, required)) return false;
    out = static_cast<std::uint64_t>(v);
    return true;
  }

  bool number(const char* key, double& out, double lo, double hi, bool required) {
    if (failed()) return false;
    const auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      if (required) {
        fail({errc::kMissingField, type_ + ": missing field \"" + prefix_ + key + "\""});
      }
      return false;
    }
    if (!it->is_number()) {
      fail(badType(key, "a number", *it));
      return false;
    }
    const double d = it->get<double>();
    if (!std::isfinite(d) || d < lo || d > hi) {
      fail({errc::kOutOfRange, where(key) + "must be a finite number in " + json(lo).dump() +
                                   ".." + json(hi).dump() + ", got " + describe(*it)});
      return false;
    }
    out = d;
    return true;
  }

  bool string(const char* key, std::string& out, bool required, bool non_empty) {
    const json* v = find(key, required, json::value_t::string, "a string");
    if (!v) return false;
    const auto& s = v->get_ref<const std::string&>();
    if (non_empty && s.empty()) {
      fail({errc::kOutOfRange, where(key) + "must not be empty"});
      return false;
    }
    out = s;
    return true;
  }

  bool boolean(const char* key, bool& out, bool required) {
    const json* v = find(key, required, json::value_t::boolean, "a boolean");
    if (!v) return false;
    out = v->get<bool>();
    return true;
  }

  const json& obj_;
  const std::string& type_;
  std::string prefix_;
  std::optional<Error> err_;
};

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

std::string encode(const Message& m) {
  // replace: a struct holding invalid UTF-8 must not make the encoder throw.
  return std::visit(Encoder{}, m).dump(-1, ' ', false, ojson::error_handler_t::replace);
}

std::string encodeFrame(const Message& m) { return encode(m) + "\n"; }

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

std::optional<ErrorMsg> checkVersion(const Version& peer) {
  if (peer.major == kProtocolMajor) return std::nullopt;
  return ErrorMsg{std::nullopt, errc::kIncompatibleVersion,
                  "protocol version " + std::to_string(peer.major) + "." +
                      std::to_string(peer.minor) + " is not compatible with " +
                      std::to_string(kProtocolMajor) + "." + std::to_string(kProtocolMinor) +
                      " (major versions differ)"};
}

namespace {

bool botMaySend(const Message& m) {
  return std::holds_alternative<ActionResult>(m) || std::holds_alternative<Pong>(m) ||
         std::holds_alternative<Stats>(m) || std::holds_alternative<Event>(m) ||
         std::holds_alternative<Ack>(m) || std::holds_alternative<ErrorMsg>(m);
}
bool controlMaySend(const Message& m) {
  return controlRequestOf(m).has_value() || std::holds_alternative<Subscribe>(m) ||
         std::holds_alternative<ErrorMsg>(m);
}
bool daemonMaySendToBot(const Message& m) {
  return std::holds_alternative<ActionRequest>(m) || std::holds_alternative<Ping>(m) ||
         std::holds_alternative<Shutdown>(m) || std::holds_alternative<Ack>(m) ||
         std::holds_alternative<ErrorMsg>(m);
}
bool daemonMaySendToControl(const Message& m) {
  return std::holds_alternative<StatusResult>(m) || std::holds_alternative<RunResult>(m) ||
         std::holds_alternative<LifecycleResult>(m) || std::holds_alternative<LimitResult>(m) ||
         std::holds_alternative<ReloadResult>(m) || std::holds_alternative<JournalEntry>(m) ||
         std::holds_alternative<Ack>(m) || std::holds_alternative<ErrorMsg>(m);
}

Error unexpected(const std::string& what) { return Error{errc::kUnexpected, what}; }

}  // namespace

Result<void> HandshakeState::accept(const Message& m) {
  const std::string type = typeName(m);
  if (side_ == Side::kDaemon) {
    if (!established_) {
      const auto* hello = std::get_if<Hello>(&m);
      if (!hello) return unexpected("expected hello as the first frame, got " + type);
      if (auto e = checkVersion(hello->version)) return Error{e->code, e->message};
      role_ = hello->role;
      established_ = true;
      return okResult();
    }
    const bool allowed = role_ == Role::kBot ? botMaySend(m) : controlMaySend(m);
    if (!allowed) {
      return unexpected(std::string("a ") + toString(role_) + " peer may not send " + type);
    }
    return okResult();
  }

  if (refused_) return unexpected("connection was refused by memvisord; got " + type);
  if (!established_) {
    if (std::holds_alternative<ErrorMsg>(m)) {
      refused_ = true;
      return okResult();
    }
    const auto* welcome = std::get_if<Welcome>(&m);
    if (!welcome) return unexpected("expected welcome or error as the first frame, got " + type);
    if (auto e = checkVersion(welcome->version)) return Error{e->code, e->message};
    established_ = true;
    return okResult();
  }
  bool allowed = false;
  if (!peer_role_) {
    allowed = daemonMaySendToBot(m) || daemonMaySendToControl(m);
  } else {
    allowed = *peer_role_ == Role::kBot ? daemonMaySendToBot(m) : daemonMaySendToControl(m);
  }
  if (!allowed) return unexpected("memvisord may not send " + type + " to this peer");
  return okResult();
}

}  // namespace memvisor::proto
