#include "actions.hpp"

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

}  // namespace memvisor::bot
