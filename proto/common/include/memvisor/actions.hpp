// The one table of actions memvisor knows. The codec, the config, the policy, the daemon
// and memvisorctl read it; adding an action kind means a row here, its handler (the bot's
// for an action sent to the bot, the daemon's action runner otherwise) and the clients.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memvisor {

// Identity only: severity and escalation order come from ActionInfo::ladder, never from
// the enum's integer values.
enum class ActionKind { kTrim, kSweep, kCompact, kRestart, kAlert };

struct ActionInfo {
  ActionKind kind;
  std::string_view name;  // wire, config, journal and memvisorctl name
  // Escalation position: trim 1 -> sweep 2 -> compact 3 -> restart 4. 0 = off the ladder
  // (alert only journals: it never escalates and is never an escalation step).
  int ladder;
  // Sent to the bot as an action request of type `name`; the bot announces it among its
  // Hello capabilities. False: memvisord carries it out itself (restart) or only journals.
  bool to_bot;
  std::string_view deadline_key;  // key under `deadlines:`; empty = the action has none
  std::chrono::milliseconds default_deadline;
  bool urgent;  // asked with urgency high (not normal) when a threshold fires it
  std::string_view past;     // "trimmed": memvisorctl's result lines
  std::string_view summary;  // what it does, for memvisorctl's help of an action sent to the bot
};

inline constexpr std::array<ActionInfo, 5> kActions{{
    {ActionKind::kTrim, "trim", 1, true, "trim", std::chrono::seconds(5), false, "trimmed",
     "Ask the bot to give free heap back to the OS now"},
    {ActionKind::kSweep, "sweep", 2, true, "sweep", std::chrono::seconds(10), false, "swept",
     "Ask the bot to evict stale cache entries now"},
    {ActionKind::kCompact, "compact", 3, true, "compact", std::chrono::seconds(30), true, "compacted",
     "Ask the bot to shrink hard (caches and heap) now"},
    // A restart's deadline is the protocol `shutdown` the bot gets before the stop signal.
    {ActionKind::kRestart, "restart", 4, false, "shutdown", std::chrono::seconds(10), true, "restarted",
     "Restart the bot (protocol shutdown, then the stop signal)"},
    {ActionKind::kAlert, "alert", 0, false, "", std::chrono::milliseconds(0), false, "alerted",
     "Journal a warning only"},
}};
inline constexpr std::size_t kActionKinds = kActions.size();
constexpr bool tableInEnumOrder() {
  for (std::size_t i = 0; i < kActions.size(); ++i) {
    if (static_cast<std::size_t>(kActions[i].kind) != i) return false;
  }
  return true;
}
static_assert(tableInEnumOrder(), "kActions rows must follow ActionKind's order");

// Rows are in enum order (checked below), so a kind indexes the table.
constexpr std::size_t actionIndex(ActionKind a) { return static_cast<std::size_t>(a); }
constexpr const ActionInfo& actionInfo(ActionKind a) { return kActions[actionIndex(a)]; }
constexpr const char* actionName(ActionKind a) { return actionInfo(a).name.data(); }
constexpr int ladderOf(ActionKind a) { return actionInfo(a).ladder; }

// Which rows a lookup or a list of names covers.
enum class ActionSet { kAll, kToBot, kLadder };
constexpr bool inSet(const ActionInfo& i, ActionSet set) {
  return set == ActionSet::kAll || (set == ActionSet::kToBot ? i.to_bot : i.ladder > 0);
}

// By name, within `set`.
constexpr std::optional<ActionKind> findAction(std::string_view name, ActionSet set = ActionSet::kAll) {
  for (const auto& i : kActions) {
    if (i.name == name && inSet(i, set)) return i.kind;
  }
  return std::nullopt;
}

// The next rung up the ladder (trim -> sweep -> compact -> restart); the top and actions
// off the ladder stay put.
constexpr ActionKind nextActionUp(ActionKind a) {
  const int at = ladderOf(a);
  if (at == 0) return a;
  for (const auto& i : kActions) {
    if (i.ladder == at + 1) return i.kind;
  }
  return a;
}

// "trim|sweep|compact" of the names in `set`, in table order, for messages.
const std::string& actionNames(ActionSet set);
std::vector<std::string> actionNameList(ActionSet set);

}  // namespace memvisor
