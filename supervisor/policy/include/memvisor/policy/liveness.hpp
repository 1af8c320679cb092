// Liveness: is the bot's event loop still serving? A pure decision over ping outcomes and the
// event-loop lag the bot reports, against a bot's `liveness` config and an injected time.
// The daemon sends the pings and feeds what happened here (no I/O, no clock reads).
//
// Semantics:
// - a pong (even a late one) ends a run of misses; `misses` misses in a row make the bot
//   hung. A pong while hung because of pings leaves hung ("a bot that answers again").
// - lag above `max_lag` continuously for `lag_for` makes the bot hung too; a lag figure at or
//   below the bound leaves that hung (and restarts the clock).
// - the bot is hung while either cause holds; the verdict reports each change once.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "memvisor/config/config.hpp"

namespace memvisor::policy {

struct LivenessState {
  int misses = 0;              // pings unanswered in a row
  bool ping_hung = false;      // misses reached the configured count
  bool lag_hung = false;       // lag above its bound for its time
  std::optional<std::chrono::steady_clock::time_point> lag_above_since;
  std::optional<double> last_rtt_ms;  // round trip of the last answered ping
  bool answered = false;              // a pong arrived in this session
  std::string reason;                 // why hung (kept after recovery, for status)
  bool hung() const { return ping_hung || lag_hung; }
};

enum class LivenessChange { kNone, kHung, kRecovered };

struct LivenessVerdict {
  LivenessChange change = LivenessChange::kNone;
  std::string reason;  // journal-ready: "3 pings in a row unanswered within 5s"
  std::map<std::string, std::string> fields;
};

using LivenessTime = std::chrono::steady_clock::time_point;

// A pong for a ping sent `rtt_ms` ago; `late` when it came after the ping's deadline.
LivenessVerdict onPong(LivenessState& s, const config::Liveness& c, double rtt_ms, bool late);
// A ping's deadline passed without its pong.
LivenessVerdict onPingMissed(LivenessState& s, const config::Liveness& c);
// The event-loop lag of a `stats` that arrived at `now`.
LivenessVerdict onLag(LivenessState& s, const config::Liveness& c, double lag_ms,
                      LivenessTime now);
// A new session or a new process: nothing is known yet.
void resetLiveness(LivenessState& s);

// BotStatus.liveness: off | unknown (connected, no pong yet; or not connected) | ok | hung.
const char* livenessName(const LivenessState& s, const config::Liveness& c);

}  // namespace memvisor::policy
