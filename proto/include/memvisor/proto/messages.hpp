// Typed messages of the memvisor wire protocol (proto/PROTOCOL.md is the normative spec).
// Every frame on the wire decodes to exactly one of the structs in `Message`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "memvisor/actions.hpp"
#include <vector>

namespace memvisor::proto {

inline constexpr int kProtocolMajor = 1;
inline constexpr int kProtocolMinor = 1;
// Longest frame (bytes of JSON, newline excluded) either side may send or accept.
inline constexpr std::size_t kMaxFrameBytes = 64 * 1024;
// Largest magnitude of any integer on the wire (ids, bytes, ms): 2^53 - 1, so that peers
// holding numbers as IEEE doubles (JavaScript) represent every value exactly.
inline constexpr std::int64_t kMaxSafeInteger = (std::int64_t{1} << 53) - 1;
// Deepest JSON nesting a frame may have; deeper frames are bad_json (bounds the parser).
inline constexpr int kMaxJsonDepth = 16;

// Stable error codes on the wire ("code" of an error object). Never renumber or rename.
namespace errc {
inline constexpr const char* kBadJson = "bad_json";                  // not a JSON object / not UTF-8
inline constexpr const char* kFrameTooLarge = "frame_too_large";     // line > kMaxFrameBytes
inline constexpr const char* kUnknownType = "unknown_type";          // "type" not known
inline constexpr const char* kMissingField = "missing_field";
inline constexpr const char* kBadField = "bad_field";                // wrong JSON type
inline constexpr const char* kOutOfRange = "out_of_range";           // right type, bad value
inline constexpr const char* kUnexpected = "unexpected_message";     // wrong handshake order / role
inline constexpr const char* kIncompatibleVersion = "incompatible_version";
inline constexpr const char* kNotPermitted = "not_permitted";        // SO_PEERCRED refused
inline constexpr const char* kUnknownBot = "unknown_bot";
inline constexpr const char* kNotConnected = "not_connected";        // bot has no session
inline constexpr const char* kTimeout = "timeout";                   // deadline passed
inline constexpr const char* kActionFailed = "action_failed";
inline constexpr const char* kBusy = "busy";                         // action already running
inline constexpr const char* kBadConfig = "bad_config";
inline constexpr const char* kInternal = "internal";
// 1.1: an answer larger than one frame, for a client that did not announce kCapParts.
inline constexpr const char* kTooLarge = "too_large";
// 1.1: another connection now speaks for this bot; this one is closed (section 7.4).
inline constexpr const char* kReplaced = "replaced";
}  // namespace errc

// Capabilities with a meaning beyond one request type (PROTOCOL.md 5).
namespace cap {
// 1.1, control: the client reassembles answers carried in several frames (`more`); memvisord
// announces it in welcome when it may send them.
inline constexpr const char* kParts = "parts";
}  // namespace cap

enum class Role { kBot, kControl };
enum class Urgency { kLow, kNormal, kHigh, kCritical };
// The actions the bot protocol carries: the rows of memvisor/actions.hpp with to_bot.
using Action = ActionKind;
enum class Level { kDebug, kInfo, kWarn, kError };

const char* toString(Role r);
const char* toString(Urgency u);
const char* toString(Action a);
const char* toString(Level l);
std::optional<Role> parseRole(std::string_view s);
std::optional<Urgency> parseUrgency(std::string_view s);
std::optional<Action> parseAction(std::string_view s);
std::optional<Level> parseLevel(std::string_view s);

struct Version {
  int major = kProtocolMajor;
  int minor = kProtocolMinor;
  bool operator==(const Version&) const = default;
};

// ---- handshake -------------------------------------------------------------------------

struct Hello {  // peer -> memvisord, first frame
  Version version;
  Role role = Role::kBot;
  std::int64_t pid = 0;
  std::string name;                       // bot name (role bot) or client name (control)
  std::vector<std::string> capabilities;  // e.g. "trim","sweep","compact","stats","gc"
  bool operator==(const Hello&) const = default;
};

struct Welcome {  // memvisord -> peer, reply to hello
  Version version;
  std::int64_t pid = 0;  // memvisord's pid
  std::string name;      // the bot name memvisord knows this peer as
  std::vector<std::string> capabilities;
  std::int64_t stats_interval_ms = 5000;  // how often a bot should send stats
  bool operator==(const Welcome&) const = default;
};

// ---- errors and generic replies --------------------------------------------------------

struct ErrorMsg {  // reply to request `id`, or connection-level when id is absent
  std::optional<std::uint64_t> id;
  std::string code;  // one of errc::
  std::string message;
  bool operator==(const ErrorMsg&) const = default;
};

struct Ack {  // generic success reply (shutdown accepted, subscribe backlog complete, ...)
  std::uint64_t id = 0;
  std::string message;  // optional, may be empty
  bool operator==(const Ack&) const = default;
};

// ---- memvisord -> bot --------------------------------------------------------------------

struct ActionRequest {  // type is "trim", "sweep" or "compact"
  std::uint64_t id = 0;
  Action action = Action::kTrim;
  Urgency urgency = Urgency::kNormal;
  std::int64_t deadline_ms = 5000;  // 1..600000
  // 1.1: how many bytes memvisord wants back (to get below its re-arm level); absent = no
  // goal, the 1.0 behaviour (lifetimes by urgency).
  std::optional<std::int64_t> target_bytes;
  // 1.1: how far the bot's figure may rise, for a moment, above where it is now before
  // memvisord restarts it at once (its hard ceiling). A reclaim that costs memory while it
  // runs (V8 evacuating pages copies the live objects before it frees the old pages) fits
  // in it or is not attempted. Absent: unknown (no hard ceiling, or a 1.0 memvisord).
  std::optional<std::int64_t> headroom_bytes;
  bool operator==(const ActionRequest&) const = default;
};

struct Ping {
  std::uint64_t id = 0;
  bool operator==(const Ping&) const = default;
};

struct Shutdown {
  std::uint64_t id = 0;
  std::int64_t deadline_ms = 10000;  // 1..600000
  std::string reason;
  bool operator==(const Shutdown&) const = default;
};

// ---- bot -> memvisord --------------------------------------------------------------------

// Memory figures as the bot sees them. Absent fields are "not known to the bot".
struct MemFigures {
  std::optional<std::int64_t> rss_bytes;
  std::optional<std::int64_t> heap_used_bytes;
  std::optional<std::int64_t> heap_total_bytes;
  std::optional<std::int64_t> external_bytes;
  // 1.1: the runtime's heap ceiling (V8 heap_size_limit); past it the runtime aborts.
  std::optional<std::int64_t> heap_limit_bytes;
  bool operator==(const MemFigures&) const = default;
};

struct CacheDetail {  // per cache or heap region affected by an action
  std::string name;
  std::int64_t freed_bytes = 0;  // may be negative (memory grew)
  std::optional<std::int64_t> entries_before;
  std::optional<std::int64_t> entries_after;
  bool operator==(const CacheDetail&) const = default;
};

struct ActionResult {  // reply to trim/sweep/compact
  std::uint64_t id = 0;
  Action action = Action::kTrim;
  bool ok = true;
  std::int64_t freed_bytes = 0;  // measured (RSS before - after); may be negative
  double duration_ms = 0;
  bool late = false;  // the handler overran the request's deadline
  MemFigures before;
  MemFigures after;
  std::vector<CacheDetail> details;
  std::string error;  // when !ok
  // 1.1: heap used before - after as the runtime counts it (exact, unlike the RSS drop,
  // which lags while the runtime returns pages in the background).
  std::optional<std::int64_t> heap_freed_bytes;
  // 1.1: present when the request carried target_bytes: whether that much was freed.
  std::optional<bool> target_met;
  bool operator==(const ActionResult&) const = default;
};

struct Pong {
  std::uint64_t id = 0;
  std::optional<std::int64_t> uptime_ms;
  bool operator==(const Pong&) const = default;
};

struct Stats {  // unsolicited, periodic
  MemFigures mem;
  std::optional<double> event_loop_lag_ms;
  std::map<std::string, std::int64_t> caches;  // cache name -> entry count
  std::optional<std::int64_t> uptime_ms;
  bool operator==(const Stats&) const = default;
};

struct Event {  // unsolicited: something the bot wants journalled
  Level level = Level::kInfo;
  std::string message;
  std::map<std::string, std::string> fields;
  bool operator==(const Event&) const = default;
};

// ---- control (memvisorctl <-> memvisord) -------------------------------------------------

struct StatusRequest {
  std::uint64_t id = 0;
  std::vector<std::string> bots;  // empty = all
  bool operator==(const StatusRequest&) const = default;
};

struct LastAction {
  std::string action;  // trim|sweep|compact|restart|alert
  bool ok = true;
  std::int64_t freed_bytes = 0;
  std::int64_t at_ms = 0;  // unix epoch ms
  std::string reason;
  bool operator==(const LastAction&) const = default;
};

// The bot's latest `stats` as memvisord holds it (1.1). `stale` once no `stats` came for
// several stats intervals: the figures are then the last known, not current ones.
struct BotStats {
  std::int64_t age_ms = 0;  // since the stats arrived
  bool stale = false;
  Stats stats;
  bool operator==(const BotStats&) const = default;
};

struct BotStatus {
  std::string name;
  std::string state;         // STARTING RUNNING BACKOFF STOPPING STOPPED EXITED FATAL
  std::string memory_state;  // ok | elevated | high | critical | unknown
  std::int64_t pid = 0;      // 0 when not running
  std::int64_t uptime_ms = 0;
  bool connected = false;  // bot session on the bot socket
  std::string metric;      // rss | pss | working_set | cgroup
  std::int64_t limit_bytes = 0;
  std::string limit_source;  // config | runtime
  std::optional<std::int64_t> rss_bytes;
  std::optional<std::int64_t> pss_bytes;
  std::optional<std::int64_t> working_set_bytes;
  std::optional<std::int64_t> cgroup_usage_bytes;
  std::optional<std::int64_t> metric_bytes;  // the figure the limit applies to
  std::optional<LastAction> last_action;
  std::int64_t restarts = 0;
  std::int64_t oom_kills = 0;
  std::vector<std::int64_t> thresholds_bytes;  // configured thresholds, for displays
  // (1.1) How a crossing is seen: "eventfd", "poll ≤ 10ms", "memory.events, poll ≤ 10ms"...
  std::optional<std::string> detection;
  std::optional<std::int64_t> detection_bound_ms;  // (1.1) the bound in ms (poll.min)
  std::optional<std::int64_t> pss_age_ms;          // (1.1) how old pss_bytes is
  // 1.1: the bot's own figures and its liveness (absent from 1.0 daemons).
  std::optional<BotStats> bot_stats;       // the bot's latest `stats`; absent before the first
  std::optional<std::string> liveness;     // off | unknown | ok | hung
  std::optional<std::string> liveness_reason;  // why hung (or why it left hung)
  std::optional<double> ping_ms;           // round trip of the last answered ping
  std::optional<bool> memory_alert;        // the monitor's alert (default 80% of the limit) is on
  bool operator==(const BotStatus&) const = default;
};

// A result that may be carried in several frames (PROTOCOL.md 7.6, "Answers in parts"):
// every part but the last has `more` set; the receiver appends the parts' arrays in order.
struct StatusResult {
  std::uint64_t id = 0;
  std::vector<BotStatus> bots;
  bool more = false;  // another part of this answer follows
  bool operator==(const StatusResult&) const = default;
};

struct RunRequest {  // run an action on a bot now
  std::uint64_t id = 0;
  std::string bot;  // a name or "all"
  Action action = Action::kTrim;
  bool operator==(const RunRequest&) const = default;
};

struct BotOutcome {  // one line per bot of a multi-bot control command
  std::string bot;
  bool ok = true;
  std::string code;  // errc:: when !ok
  std::string message;
  std::int64_t freed_bytes = 0;
  double duration_ms = 0;
  bool operator==(const BotOutcome&) const = default;
};

struct RunResult {  // may come in parts, as StatusResult
  std::uint64_t id = 0;
  std::vector<BotOutcome> results;
  bool more = false;
  bool operator==(const RunResult&) const = default;
};

enum class LifecycleOp { kStart, kStop, kRestart };
const char* toString(LifecycleOp op);
std::optional<LifecycleOp> parseLifecycleOp(std::string_view s);

struct LifecycleRequest {
  std::uint64_t id = 0;
  std::string bot;  // a name or "all"
  LifecycleOp op = LifecycleOp::kRestart;
  bool operator==(const LifecycleRequest&) const = default;
};

struct LifecycleResult {  // may come in parts, as StatusResult
  std::uint64_t id = 0;
  std::vector<BotOutcome> results;
  bool more = false;
  bool operator==(const LifecycleResult&) const = default;
};

struct LimitRequest {  // get (limit_bytes absent) or set the limit of one bot
  std::uint64_t id = 0;
  std::string bot;
  std::optional<std::int64_t> limit_bytes;  // > 0
  bool operator==(const LimitRequest&) const = default;
};

struct LimitResult {
  std::uint64_t id = 0;
  std::string bot;
  std::int64_t limit_bytes = 0;
  std::string source;  // config | runtime
  bool operator==(const LimitResult&) const = default;
};

struct ReloadRequest {
  std::uint64_t id = 0;
  bool operator==(const ReloadRequest&) const = default;
};

struct ReloadResult {
  std::uint64_t id = 0;
  bool ok = true;
  std::vector<std::string> errors;   // file:line:col: key: message, when !ok
  std::vector<std::string> changes;  // human summary of what changed, when ok
  bool operator==(const ReloadResult&) const = default;
};

struct Subscribe {
  std::uint64_t id = 0;
  std::optional<std::string> bot;       // filter; absent = all bots
  std::optional<std::int64_t> since_ms;  // backlog newer than now - since_ms; absent = none
  bool follow = false;                   // keep the subscription open for live entries
  bool operator==(const Subscribe&) const = default;
};

// One journal entry (memvisord -> control subscriber, unsolicited). `fields` holds the
// entry's key=value pairs, values as strings, exactly as the journal line shows them.
struct JournalEntry {
  std::int64_t ts_ms = 0;  // unix epoch ms
  std::string bot;         // may be empty for daemon-wide entries
  std::string kind;        // threshold, action, restart, oom_kill, config, spawn, exit, ...
  Level level = Level::kInfo;
  std::string message;
  std::map<std::string, std::string> fields;
  bool operator==(const JournalEntry&) const = default;
};

using Message =
    std::variant<Hello, Welcome, ErrorMsg, Ack, ActionRequest, Ping, Shutdown, ActionResult,
                 Pong, Stats, Event, StatusRequest, StatusResult, RunRequest, RunResult,
                 LifecycleRequest, LifecycleResult, LimitRequest, LimitResult, ReloadRequest,
                 ReloadResult, Subscribe, JournalEntry>;

// The "type" string a message is sent with ("trim"/"sweep"/"compact" for ActionRequest).
std::string typeName(const Message& m);

// The control requests the daemon answers (a control client's `subscribe` is served by the
// control endpoint itself): the one list that the handshake's rules for a control peer, the
// control session's dispatch and the backend's handlers (one per alternative) all read.
using ControlRequest =
    std::variant<StatusRequest, RunRequest, LifecycleRequest, LimitRequest, ReloadRequest>;
// `m` as a control request; nullopt for any other type.
std::optional<ControlRequest> controlRequestOf(const Message& m);
Message toMessage(const ControlRequest& r);

// The frame's `id`, when its type has one (requests, responses; an ErrorMsg's optional id).
// What an `error` answering a frame echoes (section 4).
std::optional<std::uint64_t> idOf(const Message& m);

}  // namespace memvisor::proto
