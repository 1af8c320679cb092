// The reference bot's model: cache limits and eviction order, sweeper lifetimes at given
// times, compaction, and the measured per-cache details of commanded actions.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "actions.hpp"
#include "bot_state.hpp"
#include "gateway.hpp"
#include "limited_cache.hpp"
#include "sanitizer.hpp"
#include "memvisor/client/memory.hpp"

namespace memvisor::bot {
namespace {

std::vector<std::uint64_t> keys(const LimitedCache<int>& c) {
  std::vector<std::uint64_t> k;
  c.forEach([&](std::uint64_t key, int) { k.push_back(key); });
  return k;
}

TEST(LimitedCache, EvictsOldestInsertedWhenOverLimit) {
  LimitedCache<int> c(3);
  EXPECT_EQ(c.set(1, 10), 0u);
  c.set(2, 20);
  c.set(3, 30);
  EXPECT_EQ(c.set(4, 40), 1u);
  EXPECT_EQ(keys(c), (std::vector<std::uint64_t>{2, 3, 4}));
  EXPECT_EQ(c.get(1), nullptr);
}

TEST(LimitedCache, ReplacingKeepsPositionInEvictionOrder) {
  LimitedCache<int> c(3);
  c.set(1, 10);
  c.set(2, 20);
  c.set(3, 30);
  c.set(1, 11);  // update, not a new entry: 1 stays oldest
  c.set(4, 40);
  EXPECT_EQ(keys(c), (std::vector<std::uint64_t>{2, 3, 4}));
}

TEST(LimitedCache, StoresNothingWhenLimitIsZero) {
  LimitedCache<int> c(0);
  c.set(1, 10);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.get(1), nullptr);
}

TEST(LimitedCache, SweepRemovesMatchingAndShrinkKeepsNewest) {
  LimitedCache<int> c;
  for (int i = 1; i <= 10; ++i) c.set(static_cast<std::uint64_t>(i), i);
  EXPECT_EQ(c.sweep([](std::uint64_t, int v) { return v % 2 == 0; }), 5u);
  EXPECT_EQ(keys(c), (std::vector<std::uint64_t>{1, 3, 5, 7, 9}));
  EXPECT_EQ(c.shrinkTo(2), 3u);
  EXPECT_EQ(keys(c), (std::vector<std::uint64_t>{7, 9}));
}

TEST(LimitedCache, ReleaseCapacityShrinksTheIndex) {
  LimitedCache<int> c;
  for (int i = 0; i < 10000; ++i) c.set(static_cast<std::uint64_t>(i), i);
  const auto big = c.bucketCount();
  c.shrinkTo(10);
  EXPECT_EQ(c.bucketCount(), big);  // a hash table does not shrink by itself
  c.releaseCapacity();
  EXPECT_LT(c.bucketCount(), big / 100);
}

TEST(LimitedCache, SetLimitEvictsDownToNewLimit) {
  LimitedCache<int> c(10);
  for (int i = 0; i < 10; ++i) c.set(static_cast<std::uint64_t>(i), i);
  c.setLimit(4);
  EXPECT_EQ(keys(c), (std::vector<std::uint64_t>{6, 7, 8, 9}));
}

MessageRecord msgAt(std::int64_t t) {
  MessageRecord m;
  m.created_ms = t;
  (void)m.payload;
  return m;
}

TEST(BotState, AppliesPerChannelMessageLimit) {
  CacheLimits l;
  l.messages = 50;
  BotState s(2, 3, l);
  for (int i = 0; i < 80; ++i) s.addMessage(0, static_cast<std::uint64_t>(i), msgAt(i));
  for (int i = 0; i < 10; ++i) s.addMessage(5, static_cast<std::uint64_t>(1000 + i), msgAt(i));
  EXPECT_EQ(s.count(kMessages), 60u);
  EXPECT_EQ(s.evictions(), 30u);
}

TEST(BotState, DisabledCachesStayEmptyWithSeedLimits) {
  BotState s(1, 1, CacheLimits{});
  s.setPresence(1, SmallRecord{0, "p"});
  s.addReaction(2, SmallRecord{0, "r"});
  s.addInvite(3, SmallRecord{0, "i"});
  EXPECT_EQ(s.count(kPresences), 0u);
  EXPECT_EQ(s.count(kReactions), 0u);
  EXPECT_EQ(s.count(kInvites), 0u);
}

TEST(BotState, MessageSweeperRemovesOnlyEntriesOlderThanLifetime) {
  BotState s(1, 2, CacheLimits::unlimited());
  // Messages at t = 0, 100 s, 200 s, ..., 1000 s.
  for (int i = 0; i <= 10; ++i) s.addMessage(static_cast<std::size_t>(i % 2), static_cast<std::uint64_t>(i), msgAt(i * 100000));
  // At t = 1000 s with the seed's 900 s lifetime: t = 0 and 100 s go (<= now - lifetime).
  EXPECT_EQ(s.sweepMessages(1000000, 900000), 2u);
  EXPECT_EQ(s.count(kMessages), 9u);
  EXPECT_EQ(s.sweepMessages(1000000, 900000), 0u);
  EXPECT_EQ(s.sweepMessages(1000000, 0), 9u);  // lifetime 0: everything
}

TEST(BotState, UserSweeperRemovesBotUsersOnly) {
  BotState s(1, 1, CacheLimits{});
  s.upsertUser(1, UserRecord{true, 0, "b"});
  s.upsertUser(2, UserRecord{false, 0, "h"});
  s.upsertUser(3, UserRecord{true, 0, "b"});
  EXPECT_EQ(s.sweepBotUsers(), 2u);
  EXPECT_EQ(s.count(kUsers), 1u);
}

TEST(BotState, ThreadSweeperRemovesArchivedOlderThanLifetime) {
  BotState s(1, 1, CacheLimits{});
  s.addThread(0, 1, ThreadRecord{true, 0, "t"});
  s.addThread(0, 2, ThreadRecord{false, 0, "t"});
  s.addThread(0, 3, ThreadRecord{true, 5000, "t"});
  EXPECT_EQ(s.sweepArchivedThreads(6000, 2000), 1u);
  EXPECT_EQ(s.count(kThreads), 2u);
}

TEST(BotState, CompactEmptiesEveryCache) {
  BotState s(2, 2, CacheLimits::unlimited());
  WorkloadConfig w;
  w.guilds = 2;
  w.channels_per_guild = 2;
  SyntheticGateway g(w, 42);
  for (int i = 0; i < 5000; ++i) g.step(s, i);
  for (const auto& name : BotState::cacheNames()) {
    EXPECT_GT(s.count(name), 0u) << name;
    s.compact(name, 0);
    EXPECT_EQ(s.count(name), 0u) << name;
  }
}

TEST(SyntheticGateway, IsDeterministicForASeedAndMostlyMessages) {
  WorkloadConfig w;
  w.guilds = 3;
  w.channels_per_guild = 4;
  BotState a(3, 4, CacheLimits::unlimited()), b(3, 4, CacheLimits::unlimited());
  SyntheticGateway ga(w, 7), gb(w, 7);
  for (int i = 0; i < 2000; ++i) {
    ga.step(a, i);
    gb.step(b, i);
  }
  EXPECT_EQ(a.counts(), b.counts());
  EXPECT_GT(ga.messages(), 1200u);
  EXPECT_LT(ga.messages(), 1600u);
}

TEST(SweepLifetime, IsShortenedByUrgency) {
  BotConfig c;
  c.sweep_messages_lifetime_s = 900;
  EXPECT_EQ(sweepLifetimeMs(c, proto::Urgency::kLow), 900000);
  EXPECT_EQ(sweepLifetimeMs(c, proto::Urgency::kNormal), 450000);
  EXPECT_EQ(sweepLifetimeMs(c, proto::Urgency::kHigh), 225000);
  EXPECT_EQ(sweepLifetimeMs(c, proto::Urgency::kCritical), 0);
}

// A fake heap: RSS is whatever the test says; trim "returns" what the step freed.
struct FakeHeap {
  std::int64_t rss = 1000;
  std::int64_t pending = 0;
  Measure measure() {
    return Measure{[this] { return rss; }, [this] {
                     rss -= pending;
                     pending = 0;
                   }};
  }
};

TEST(Actions, SweepReportsEachCacheWithEntriesAndMeasuredBytes) {
  BotState s(1, 1, CacheLimits::unlimited());
  for (int i = 0; i < 10; ++i) s.addMessage(0, static_cast<std::uint64_t>(i), msgAt(i * 1000));
  s.upsertUser(1, UserRecord{true, 0, "b"});
  FakeHeap heap;
  BotConfig c;
  c.sweep_messages_lifetime_s = 10;  // normal urgency: 5 s
  s.upsertMember(0, 1, MemberRecord{0, 1000, "idle"});
  s.upsertMember(0, 2, MemberRecord{0, 9000, "active"});
  s.setPresence(1, SmallRecord{1000, "stale"});
  auto out = runSweep(s, c, proto::Urgency::kNormal, 10000, heap.measure());
  ASSERT_EQ(out.details.size(), 7u);
  EXPECT_EQ(out.details[0].name, kMessages);
  EXPECT_EQ(out.details[0].entries_before, 10);
  EXPECT_EQ(out.details[0].entries_after, 4);  // t = 6..9 s survive (> 10 - 5)
  EXPECT_EQ(out.details[0].freed_bytes, 0);    // the fake heap returned nothing
  EXPECT_EQ(out.details[1].name, kUsers);
  EXPECT_EQ(out.details[1].entries_after, 0);
  EXPECT_EQ(out.details[3].name, kMembers);
  EXPECT_EQ(out.details[3].entries_before, 2);
  EXPECT_EQ(out.details[3].entries_after, 1);  // updated at 9 s: within 5 s of now
  EXPECT_EQ(out.details[4].name, kPresences);
  EXPECT_EQ(out.details[4].entries_after, 0);
  EXPECT_TRUE(out.ok);
}

TEST(Actions, MeasuredBytesAreRssBeforeMinusAfterEachStepAndEmptyStepsSkipTrim) {
  BotState s(1, 1, CacheLimits::unlimited());
  s.addMessage(0, 1, msgAt(0));
  s.upsertUser(7, UserRecord{false, 0, "u"});
  FakeHeap heap;
  auto m = heap.measure();
  int trims = 0;
  Measure counting{m.rss, [&] {
                     ++trims;
                     heap.pending = 300;  // each trim gives 300 bytes back
                     m.trim();
                   }};
  auto out = runCompact(s, counting);
  ASSERT_EQ(out.details.size(), BotState::cacheNames().size() + 1);
  std::map<std::string, std::int64_t> freed;
  for (const auto& d : out.details) freed[d.name] = d.freed_bytes;
  EXPECT_EQ(freed[kMessages], 300);
  EXPECT_EQ(freed[kUsers], 300);
  EXPECT_EQ(freed[kMembers], 0);  // empty: no trim
  EXPECT_EQ(freed["heap"], 300);  // the final trim always runs
  EXPECT_EQ(trims, 3);
  EXPECT_EQ(out.details.back().name, "heap");
  EXPECT_FALSE(out.details.back().entries_before);
}

}  // namespace
}  // namespace memvisor::bot

namespace memvisor::bot {
namespace {

std::int64_t selfRss() {
  auto r = client::readRssBytes("/proc", "self");
  return r ? *r : 0;
}

TEST(PayloadArena, UnmapsASegmentWhenItsLastPayloadGoes) {
  PayloadArena a(PayloadLayout::kSegments, 64 * 1024);
  const std::string text(1000, 'x');
  std::vector<Payload> ps;
  for (int i = 0; i < 200; ++i) ps.push_back(a.allocate(text));  // ~4 segments
  EXPECT_EQ(ps[7].view(), text);
  const auto full = a.segments();
  EXPECT_GE(full, 3);
  // Free the oldest 100: the segments they filled are unmapped, the rest stay.
  for (int i = 0; i < 100; ++i) ps[static_cast<std::size_t>(i)].reset();
  EXPECT_LT(a.segments(), full);
  EXPECT_GT(a.segments(), 0);
  ps.clear();
  EXPECT_EQ(a.segments(), 1);  // the current one, kept for reuse
}

TEST(PayloadArena, GivesEvictedMessagesBackToTheOsWithoutTrim) {
  BotState s(1, 4, CacheLimits::unlimited(), PayloadLayout::kSegments);
  const std::string body(8000, 'b');
  // Small long-lived heap objects between the payloads, as users/members are in the bot.
  std::vector<std::unique_ptr<char[]>> pins;
  for (int i = 0; i < 12000; ++i) {
    MessageRecord m;
    m.created_ms = i;
    m.payload = s.arena().allocate(body);
    s.addMessage(static_cast<std::size_t>(i % 4), static_cast<std::uint64_t>(i), std::move(m));
    pins.push_back(std::make_unique<char[]>(200));
  }
  const std::int64_t before = selfRss();
  s.sweepMessages(12000, 0);
  const std::int64_t freed = before - selfRss();
  EXPECT_GE(freed, 80LL << 20) << "freed " << freed;  // ~92 MiB of payloads
}

TEST(PayloadArena, HeapLayoutHoldsTheMemoryUntilTrimmed) {
  MEMVISOR_SKIP_WITHOUT_GLIBC_MALLOC();
  BotState s(1, 1, CacheLimits::unlimited(), PayloadLayout::kHeap);
  const std::string body(8000, 'b');
  std::vector<std::unique_ptr<char[]>> pins;
  for (int i = 0; i < 6000; ++i) {
    MessageRecord m;
    m.payload = s.arena().allocate(body);
    s.addMessage(0, static_cast<std::uint64_t>(i), std::move(m));
    pins.push_back(std::make_unique<char[]>(200));
  }
  const std::int64_t before = selfRss();
  s.sweepMessages(1, 0);
  EXPECT_LT(before - selfRss(), 8LL << 20);  // freeing alone does not lower RSS
  client::trimHeap();
  EXPECT_GT(before - selfRss(), 20LL << 20);  // the runs between pins come back
}

}  // namespace
}  // namespace memvisor::bot

namespace memvisor::bot {
namespace {

// Goal-directed (protocol 1.1): on real memory (payload arena, /proc/self/statm), a target of
// 30 MiB out of ~92 MiB of messages evicts the oldest third or so, not everything, and the
// presences older than the newest message evicted, not all of them; a compact with a target
// it cannot meet keeps the newest half.
TEST(Actions, ToTargetEvictsOldestFirstUntilTheTargetIsBackAndKeepsTheRest) {
  BotState s(1, 4, CacheLimits::unlimited(), PayloadLayout::kSegments);
  const std::string body(8000, 'b');
  for (int i = 0; i < 12000; ++i) {
    MessageRecord m;
    m.created_ms = i;
    m.payload = s.arena().allocate(body);
    s.addMessage(static_cast<std::size_t>(i % 4), static_cast<std::uint64_t>(i), std::move(m));
    if (i % 10 == 0) s.setPresence(static_cast<std::uint64_t>(i), SmallRecord{i, "online"});
  }
  const auto measure = processMeasure();
  const std::int64_t before = measure.rss();
  auto out = runToTarget(s, 30LL << 20, 0.0, measure);
  const std::int64_t freed = before - measure.rss();
  EXPECT_GE(freed, 30LL << 20);
  EXPECT_LT(freed, 60LL << 20) << "far more than the target";
  const auto detail = [&](const char* name) {
    for (const auto& d : out.details) {
      if (d.name == name) return d;
    }
    ADD_FAILURE() << "no detail for " << name;
    return proto::CacheDetail{};
  };
  const auto msgs = detail(kMessages);
  // The same age for the presences: those set with a message kept (every tenth) stay.
  const auto presences = detail(kPresences);
  EXPECT_EQ(presences.entries_before, 1200);
  std::int64_t newer = 0;
  for (std::int64_t i = 12000 - msgs.entries_after.value(); i < 12000; ++i) newer += i % 10 == 0;
  EXPECT_EQ(presences.entries_after, newer);
  EXPECT_GT(newer, 600);
  EXPECT_EQ(msgs.name, kMessages);
  EXPECT_EQ(msgs.entries_before, 12000);
  EXPECT_GT(msgs.entries_after, 6000);
  EXPECT_LT(msgs.entries_after, 9000);
  // Oldest first: every message left is newer than every one evicted.
  const auto times = s.messageTimes();
  EXPECT_EQ(*std::min_element(times.begin(), times.end()), 12000 - msgs.entries_after.value());

  auto compact = runToTarget(s, 1LL << 40, 0.5, measure);
  EXPECT_EQ(compact.details.front().name, kMessages);
  EXPECT_EQ(compact.details.front().entries_after, (msgs.entries_after.value() + 1) / 2);
}

}  // namespace
}  // namespace memvisor::bot
