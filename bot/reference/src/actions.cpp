#include "actions.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "memvisor/client/memory.hpp"

namespace memvisor::bot {

Measure processMeasure() {
  return Measure{[] {
                   auto r = client::readRssBytes("/proc", "self");
                   return r ? *r : std::int64_t{0};
                 },
                 [] { client::trimHeap(); }};
}

std::int64_t sweepLifetimeMs(const BotConfig& c, proto::Urgency u) {
  const std::int64_t ms = c.sweep_messages_lifetime_s * 1000;
  switch (u) {
    case proto::Urgency::kLow: return ms;
    case proto::Urgency::kNormal: return ms / 2;
    case proto::Urgency::kHigh: return ms / 4;
    case proto::Urgency::kCritical: return 0;
  }
  return ms;
}

namespace {
// Runs one step (returning how many entries it removed), trims, and records the RSS it gave
// back. A step that removed nothing skips the trim: malloc_trim walks the whole heap
// (tens of ms at 300 MiB) and would find nothing new.
template <typename Step>
proto::CacheDetail measured(const std::string& name, std::optional<std::int64_t> entries_before, const Measure& m,
                            Step step) {
  proto::CacheDetail d;
  d.name = name;
  d.entries_before = entries_before;
  const std::int64_t before = m.rss();
  const std::size_t removed = step();
  if (removed > 0) m.trim();
  d.freed_bytes = before - m.rss();
  return d;
}

// The heap step: trim unconditionally.
std::size_t always() { return 1; }
}  // namespace

client::ActionOutcome runTrim(const Measure& m) {
  client::ActionOutcome out;
  out.details.push_back(measured("heap", std::nullopt, m, always));
  return out;
}

client::ActionOutcome runSweep(BotState& s, const BotConfig& c, proto::Urgency u, std::int64_t now_ms,
                               const Measure& m) {
  client::ActionOutcome out;
  const std::int64_t lifetime = sweepLifetimeMs(c, u);
  auto add = [&](const char* name, auto fn) {
    auto d = measured(name, static_cast<std::int64_t>(s.count(name)), m, fn);
    d.entries_after = static_cast<std::int64_t>(s.count(name));
    out.details.push_back(std::move(d));
  };
  add(kMessages, [&] { return s.sweepMessages(now_ms, lifetime); });
  add(kUsers, [&] { return s.sweepBotUsers(); });
  add(kThreads, [&] { return s.sweepArchivedThreads(now_ms, lifetime); });
  add(kMembers, [&] { return s.sweepIdleMembers(now_ms, lifetime); });
  for (const char* small : {kPresences, kReactions, kInvites}) {
    add(small, [&] { return s.sweepStaleSmall(small, now_ms, lifetime); });
  }
  return out;
}

client::ActionOutcome runCompact(BotState& s, const Measure& m) {
  client::ActionOutcome out;
  for (const auto& name : BotState::cacheNames()) {
    auto d = measured(name, static_cast<std::int64_t>(s.count(name)), m, [&] { return s.compact(name, 0); });
    d.entries_after = static_cast<std::int64_t>(s.count(name));
    out.details.push_back(std::move(d));
  }
  out.details.push_back(measured("heap", std::nullopt, m, always));
  return out;
}

client::ActionOutcome runToTarget(BotState& s, std::int64_t target, double keep_fraction, const Measure& m) {
  client::ActionOutcome out;
  const std::int64_t rss0 = m.rss();
  auto times = s.messageTimes();
  std::sort(times.begin(), times.end());
  const std::size_t total = times.size();
  const auto floor = static_cast<std::size_t>(std::ceil(static_cast<double>(total) * keep_fraction));
  proto::CacheDetail msgs;
  msgs.name = kMessages;
  msgs.entries_before = static_cast<std::int64_t>(total);
  // First estimate: the payload arena is almost all of a message's bytes.
  double per_entry = total > 0 ? std::max(64.0, static_cast<double>(s.arena().mappedBytes()) / static_cast<double>(total)) : 0;
  std::size_t evicted = 0;
  for (int round = 0; round < 4 && rss0 - m.rss() < target && evicted + floor < total; ++round) {
    const double missing = static_cast<double>(target - (rss0 - m.rss()));
    const auto want = static_cast<std::size_t>(std::ceil(missing / per_entry * 1.1));
    const std::size_t up_to = std::min(total - floor, evicted + std::max<std::size_t>(1, want));
    s.sweepMessages(times[up_to - 1], 0);  // everything created at or before the cut
    m.trim();
    const std::size_t now = total - s.count(kMessages);
    if (now == evicted) break;
    evicted = now;
    const std::int64_t freed = rss0 - m.rss();
    per_entry = freed > 0 ? std::max(64.0, static_cast<double>(freed) / static_cast<double>(evicted)) : per_entry * 2;
  }
  msgs.freed_bytes = rss0 - m.rss();
  msgs.entries_after = static_cast<std::int64_t>(s.count(kMessages));
  out.details.push_back(std::move(msgs));
  // Presences, reactions and invites go by the same age: those last seen at or before the
  // newest message evicted. Oldest first across the caches, so that a sweep that keeps
  // messages from a minute ago never empties them (it did, on every sweep of the quick start).
  const std::int64_t cut = evicted > 0 ? times[evicted - 1] : std::numeric_limits<std::int64_t>::min();
  for (const char* small : {kPresences, kReactions, kInvites}) {
    auto d = measured(small, static_cast<std::int64_t>(s.count(small)), m,
                      [&] { return evicted > 0 ? s.sweepStaleSmall(small, cut, 0) : std::size_t{0}; });
    d.entries_after = static_cast<std::int64_t>(s.count(small));
    out.details.push_back(std::move(d));
  }
  return out;
}

}  // namespace memvisor::bot
