// Answers in parts (PROTOCOL.md 7.6): cutting a large result into frames under the limit
// and putting them back together, for the three result types that may come in parts.
#include "memvisor/proto/parts.hpp"

#include <gtest/gtest.h>

#include "memvisor/proto/codec.hpp"
#include "memvisor/proto/framer.hpp"

namespace memvisor::proto {
namespace {

BotStatus bot(int i) {
  BotStatus b;
  b.name = "shard-" + std::to_string(i);
  b.state = "RUNNING";
  b.memory_state = "ok";
  b.pid = 1000 + i;
  b.uptime_ms = 3600000;
  b.connected = i % 2 == 0;
  b.metric = "rss";
  b.limit_bytes = 402653184;
  b.limit_source = "config";
  b.rss_bytes = 100000000 + i;
  b.metric_bytes = b.rss_bytes;
  b.thresholds_bytes = {281857228, 322122547};
  return b;
}

StatusResult statusOf(int n, std::uint64_t id = 7) {
  StatusResult r;
  r.id = id;
  for (int i = 0; i < n; ++i) r.bots.push_back(bot(i));
  return r;
}

// Decodes frames as a receiver does (through the framer) and reassembles them.
Message reassemble(const std::vector<std::string>& frames, std::size_t max) {
  Framer framer(max);
  for (const auto& f : frames) framer.feed(f);
  std::string text;
  std::optional<Message> whole;
  std::size_t n = 0;
  while (framer.next(text) == Framer::Status::kFrame) {
    auto m = decode(text);
    EXPECT_TRUE(m.ok()) << m.error().message;
    ++n;
    if (!whole) {
      whole = *m;
    } else {
      auto a = appendPart(*whole, *m);
      EXPECT_TRUE(a.ok()) << a.error().message;
    }
    EXPECT_EQ(hasMore(*whole), n < frames.size()) << "part " << n;
  }
  EXPECT_FALSE(framer.failed());
  EXPECT_EQ(n, frames.size());
  return *whole;
}

TEST(Parts, AResultThatFitsIsOneFrameWithoutMore) {
  const auto r = statusOf(3);
  auto frames = encodeParts(r);
  ASSERT_TRUE(frames.ok());
  ASSERT_EQ(frames->size(), 1u);
  EXPECT_EQ(frames->front(), encodeFrame(r));
  EXPECT_EQ(frames->front().find("\"more\""), std::string::npos);
}

TEST(Parts, ALargeStatusIsCutUnderTheLimitAndReassemblesInOrder) {
  const auto r = statusOf(1000);
  ASSERT_GT(encode(r).size(), kMaxFrameBytes);
  auto frames = encodeParts(r);
  ASSERT_TRUE(frames.ok()) << frames.error().message;
  EXPECT_GE(frames->size(), 4u);
  for (std::size_t i = 0; i < frames->size(); ++i) {
    const auto& f = (*frames)[i];
    EXPECT_LE(f.size() - 1, kMaxFrameBytes) << "part " << i;
    EXPECT_EQ(f.back(), '\n');
    // Parts are filled: the next bot would not have fitted (no needlessly small parts).
    if (i + 1 < frames->size()) {
      EXPECT_GT(f.size() - 1, kMaxFrameBytes - 700) << "part " << i;
    }
  }
  EXPECT_EQ(std::get<StatusResult>(reassemble(*frames, kMaxFrameBytes)), r);
}

// Table: limits just around the size of a part of k bots cut exactly there.
TEST(Parts, CutsExactlyAtTheLimitWhateverItIs) {
  const auto r = statusOf(40);
  StatusResult two = statusOf(2);
  two.more = true;
  const std::size_t exact = encode(two).size();
  for (std::size_t max : {exact - 1, exact, exact + 1, exact * 3, std::size_t{4096}}) {
    SCOPED_TRACE("max " + std::to_string(max));
    auto frames = encodeParts(r, max);
    ASSERT_TRUE(frames.ok()) << frames.error().message;
    for (const auto& f : *frames) EXPECT_LE(f.size() - 1, max);
    if (max == exact) {
      auto first = decode(std::string_view(frames->front()).substr(0, frames->front().size() - 1));
      ASSERT_TRUE(first.ok());
      EXPECT_EQ(std::get<StatusResult>(*first).bots.size(), 2u);
    }
    EXPECT_EQ(std::get<StatusResult>(reassemble(*frames, max)), r);
  }
}

TEST(Parts, RunAndLifecycleResultsComeInPartsToo) {
  RunResult run;
  run.id = 3;
  LifecycleResult life;
  life.id = 4;
  for (int i = 0; i < 2000; ++i) {
    BotOutcome o{"bot-" + std::to_string(i), i % 3 != 0, i % 3 ? "" : "not_connected",
                 i % 3 ? "" : "the bot has no session on the bot socket", 4096 * i, 1.5};
    run.results.push_back(o);
    life.results.push_back(o);
  }
  for (const Message& m : {Message(run), Message(life)}) {
    SCOPED_TRACE(typeName(m));
    ASSERT_TRUE(splittable(m));
    auto frames = encodeParts(m);
    ASSERT_TRUE(frames.ok()) << frames.error().message;
    EXPECT_GT(frames->size(), 1u);
    EXPECT_EQ(reassemble(*frames, kMaxFrameBytes), m);
  }
}

TEST(Parts, RefusesWhatCannotBeCut) {
  // One bot whose status alone is over the limit (a pathological name).
  StatusResult r = statusOf(2);
  r.bots[1].name = std::string(kMaxFrameBytes, 'x');
  auto frames = encodeParts(r);
  ASSERT_FALSE(frames.ok());
  EXPECT_EQ(frames.error().code, errc::kTooLarge);
  EXPECT_NE(frames.error().message.find("item 1"), std::string::npos) << frames.error().message;
  // A type that never comes in parts.
  ReloadResult reload;
  reload.errors.assign(2000, std::string(100, 'e'));
  EXPECT_FALSE(splittable(Message(reload)));
  auto one = encodeParts(reload);
  ASSERT_FALSE(one.ok());
  EXPECT_EQ(one.error().code, errc::kTooLarge);
}

TEST(Parts, AppendRefusesAPartOfAnotherAnswer) {
  StatusResult first = statusOf(1, 7);
  first.more = true;
  Message whole = first;
  StatusResult other = statusOf(1, 8);
  auto a = appendPart(whole, other);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, errc::kUnexpected);
  EXPECT_FALSE(appendPart(whole, RunResult{7, {}, false}).ok());
  ASSERT_TRUE(appendPart(whole, statusOf(2, 7)).ok());
  EXPECT_FALSE(hasMore(whole));
  EXPECT_EQ(std::get<StatusResult>(whole).bots.size(), 3u);
  // Complete: nothing more may be appended.
  EXPECT_FALSE(appendPart(whole, statusOf(1, 7)).ok());
}

}  // namespace
}  // namespace memvisor::proto
