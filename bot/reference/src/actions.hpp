// What the reference bot does on memvisord's trim, sweep and compact, with the memory each
// step really gave back: every step that removed entries is followed by malloc_trim, and
// measured as RSS before minus RSS after that step (a freed heap entry lowers RSS only once
// its pages are returned; a payload segment as soon as it is empty).
#pragma once

#include <cstdint>
#include <functional>

#include "bot_state.hpp"
#include "config.hpp"
#include "memvisor/client/client.hpp"
#include "memvisor/proto/messages.hpp"

namespace memvisor::bot {

// Seams for the measurement, so unit tests can run the logic without a real heap.
struct Measure {
  std::function<std::int64_t()> rss;  // current RSS in bytes
  std::function<void()> trim;         // give free heap back to the OS
};
Measure processMeasure();  // /proc/self/statm + malloc_trim(0)

// Message lifetime a commanded sweep uses: the configured lifetime scaled by urgency
// (low x1, normal x1/2, high x1/4, critical 0 = every message).
std::int64_t sweepLifetimeMs(const BotConfig& c, proto::Urgency u);

client::ActionOutcome runTrim(const Measure& m);
// Every sweeper now, with the message lifetime scaled by urgency: messages, bot users,
// archived threads, members not updated within the lifetime ("offline"), and presences,
// reactions and invites older than it (when those caches are enabled). One detail per cache.
client::ActionOutcome runSweep(BotState& s, const BotConfig& c, proto::Urgency u, std::int64_t now_ms,
                               const Measure& m);
// Every cache shrunk to its minimum (empty) with its container capacity released, then a
// final trim ("heap" detail: what the last trim found, e.g. a spike's freed blocks).
client::ActionOutcome runCompact(BotState& s, const Measure& m);

// Goal-directed (protocol 1.1 target_bytes): evicts the OLDEST messages across all channels,
// whatever the lifetimes, in rounds measured by RSS (each round's size from what the rounds so
// far freed per message), until `target` bytes are back or only `keep_fraction` of the
// messages is left; presences, reactions and invites then go by the same age (those last seen
// at or before the newest message evicted). A sweep keeps nothing back (keep_fraction 0); a
// compact keeps the newest half (0.5). Details: messages first, then the three small caches.
client::ActionOutcome runToTarget(BotState& s, std::int64_t target, double keep_fraction, const Measure& m);

}  // namespace memvisor::bot
