// The wire spellings of the protocol's enums and message types (lowercase, snake_case).
#include <array>
#include <string_view>
#include <utility>

#include "memvisor/proto/messages.hpp"

namespace memvisor::proto {
namespace {

template <typename E, std::size_t N>
std::optional<E> lookup(const std::array<std::pair<E, const char*>, N>& table,
                        std::string_view s) {
  for (const auto& [value, name] : table) {
    if (s == name) return value;
  }
  return std::nullopt;
}

template <typename E, std::size_t N>
const char* nameOf(const std::array<std::pair<E, const char*>, N>& table, E e) {
  for (const auto& [value, name] : table) {
    if (value == e) return name;
  }
  return "?";  // unreachable for valid enumerators; keeps a casted garbage value harmless
}

constexpr std::array<std::pair<Role, const char*>, 2> kRoles{{
    {Role::kBot, "bot"},
    {Role::kControl, "control"},
}};
constexpr std::array<std::pair<Urgency, const char*>, 4> kUrgencies{{
    {Urgency::kLow, "low"},
    {Urgency::kNormal, "normal"},
    {Urgency::kHigh, "high"},
    {Urgency::kCritical, "critical"},
}};
constexpr std::array<std::pair<Level, const char*>, 4> kLevels{{
    {Level::kDebug, "debug"},
    {Level::kInfo, "info"},
    {Level::kWarn, "warn"},
    {Level::kError, "error"},
}};
constexpr std::array<std::pair<LifecycleOp, const char*>, 3> kLifecycleOps{{
    {LifecycleOp::kStart, "start"},
    {LifecycleOp::kStop, "stop"},
    {LifecycleOp::kRestart, "restart"},
}};

struct TypeNamer {
  std::string operator()(const Hello&) const { return "hello"; }
  std::string operator()(const Welcome&) const { return "welcome"; }
  std::string operator()(const ErrorMsg&) const { return "error"; }
  std::string operator()(const Ack&) const { return "ack"; }
  std::string operator()(const ActionRequest& m) const { return toString(m.action); }
  std::string operator()(const Ping&) const { return "ping"; }
  std::string operator()(const Shutdown&) const { return "shutdown"; }
  std::string operator()(const ActionResult&) const { return "action_result"; }
  std::string operator()(const Pong&) const { return "pong"; }
  std::string operator()(const Stats&) const { return "stats"; }
  std::string operator()(const Event&) const { return "event"; }
  std::string operator()(const StatusRequest&) const { return "status"; }
  std::string operator()(const StatusResult&) const { return "status_result"; }
  std::string operator()(const RunRequest&) const { return "run"; }
  std::string operator()(const RunResult&) const { return "run_result"; }
  std::string operator()(const LifecycleRequest&) const { return "lifecycle"; }
  std::string operator()(const LifecycleResult&) const { return "lifecycle_result"; }
  std::string operator()(const LimitRequest&) const { return "limit"; }
  std::string operator()(const LimitResult&) const { return "limit_result"; }
  std::string operator()(const ReloadRequest&) const { return "reload"; }
  std::string operator()(const ReloadResult&) const { return "reload_result"; }
  std::string operator()(const Subscribe&) const { return "subscribe"; }
  std::string operator()(const JournalEntry&) const { return "journal"; }
};

}  // namespace

const char* toString(Role r) { return nameOf(kRoles, r); }
const char* toString(Urgency u) { return nameOf(kUrgencies, u); }
const char* toString(Action a) { return actionName(a); }
const char* toString(Level l) { return nameOf(kLevels, l); }
const char* toString(LifecycleOp op) { return nameOf(kLifecycleOps, op); }

std::optional<Role> parseRole(std::string_view s) { return lookup(kRoles, s); }
std::optional<Urgency> parseUrgency(std::string_view s) { return lookup(kUrgencies, s); }
std::optional<Action> parseAction(std::string_view s) { return findAction(s, ActionSet::kToBot); }
std::optional<Level> parseLevel(std::string_view s) { return lookup(kLevels, s); }
std::optional<LifecycleOp> parseLifecycleOp(std::string_view s) {
  return lookup(kLifecycleOps, s);
}

std::string typeName(const Message& m) { return std::visit(TypeNamer{}, m); }

namespace {
template <typename T, typename Variant>
struct IsAlternative;
template <typename T, typename... Ts>
struct IsAlternative<T, std::variant<Ts...>> : std::disjunction<std::is_same<T, Ts>...> {};
}  // namespace

std::optional<ControlRequest> controlRequestOf(const Message& m) {
  return std::visit(
      [](const auto& x) -> std::optional<ControlRequest> {
        if constexpr (IsAlternative<std::decay_t<decltype(x)>, ControlRequest>::value) return x;
        return std::nullopt;
      },
      m);
}

Message toMessage(const ControlRequest& r) {
  return std::visit([](const auto& x) -> Message { return x; }, r);
}

std::optional<std::uint64_t> idOf(const Message& m) {
  return std::visit(
      [](const auto& x) -> std::optional<std::uint64_t> {
        if constexpr (requires { x.id; }) return x.id;  // uint64_t or optional<uint64_t>
        return std::nullopt;
      },
      m);
}

}  // namespace memvisor::proto
