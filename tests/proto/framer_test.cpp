// The stream framer: partial reads, several frames per read, CRLF, blank lines, oversize.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "memvisor/proto/framer.hpp"

namespace memvisor::proto {
namespace {

// Drains every complete frame; returns them, and the final status in `last`.
std::vector<std::string> drain(Framer& f, Framer::Status* last = nullptr) {
  std::vector<std::string> out;
  std::string frame;
  Framer::Status s;
  while ((s = f.next(frame)) == Framer::Status::kFrame) out.push_back(frame);
  if (last) *last = s;
  return out;
}

TEST(Framer, ReassemblesFramesFedOneByteAtATime) {
  const std::string stream = "{\"type\":\"ping\",\"id\":1}\n{\"type\":\"ping\",\"id\":2}\n";
  Framer f;
  std::vector<std::string> frames;
  for (char c : stream) {
    f.feed(std::string_view(&c, 1));
    for (auto& fr : drain(f)) frames.push_back(fr);
  }
  EXPECT_EQ(frames, (std::vector<std::string>{R"({"type":"ping","id":1})",
                                              R"({"type":"ping","id":2})"}));
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(Framer, SplitsSeveralFramesInOneRead) {
  Framer f;
  f.feed("a\nb\nc\npartial");
  Framer::Status last;
  EXPECT_EQ(drain(f, &last), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(last, Framer::Status::kNeedMore);
  EXPECT_EQ(f.buffered(), 7u);
  f.feed(" end\n");
  EXPECT_EQ(drain(f), (std::vector<std::string>{"partial end"}));
}

TEST(Framer, StripsCarriageReturnOfCrlf) {
  Framer f;
  f.feed("one\r\ntwo\r");
  EXPECT_EQ(drain(f), (std::vector<std::string>{"one"}));
  f.feed("\n");  // CR and LF in different reads
  EXPECT_EQ(drain(f), (std::vector<std::string>{"two"}));
}

TEST(Framer, SkipsBlankAndWhitespaceOnlyLines) {
  Framer f;
  f.feed("\n\r\n  \t \n\r\r\nx\n\n");
  EXPECT_EQ(drain(f), (std::vector<std::string>{"x"}));
  EXPECT_FALSE(f.failed());
}

TEST(Framer, AcceptsAFrameOfExactlyTheLimit) {
  Framer f(16);
  f.feed(std::string(16, 'a') + "\r\n" + std::string(16, 'b') + "\n");
  EXPECT_EQ(drain(f), (std::vector<std::string>{std::string(16, 'a'), std::string(16, 'b')}));
  EXPECT_FALSE(f.failed());
}

TEST(Framer, AcceptsAFrameOfExactlyTheDefaultLimit) {
  Framer f;
  std::string line(kMaxFrameBytes, 'x');
  f.feed(line);
  Framer::Status last;
  EXPECT_TRUE(drain(f, &last).empty());
  EXPECT_EQ(last, Framer::Status::kNeedMore);
  f.feed("\n");
  const auto frames = drain(f);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].size(), kMaxFrameBytes);
}

TEST(Framer, RejectsAnOversizeLineThatHasItsNewline) {
  Framer f(16);
  f.feed("ok\n" + std::string(17, 'a') + "\nlater\n");
  Framer::Status last;
  EXPECT_EQ(drain(f, &last), (std::vector<std::string>{"ok"}));
  EXPECT_EQ(last, Framer::Status::kTooLarge);
  EXPECT_TRUE(f.failed());
}

TEST(Framer, RejectsAnOversizeLineBeforeItsNewlineArrives) {
  Framer f(16);
  f.feed(std::string(16, 'a'));
  Framer::Status last;
  drain(f, &last);
  EXPECT_EQ(last, Framer::Status::kNeedMore);
  f.feed("a");  // 17 bytes, the last not a CR: cannot be a valid frame any more
  drain(f, &last);
  EXPECT_EQ(last, Framer::Status::kTooLarge);
  EXPECT_EQ(f.buffered(), 0u) << "an oversize line must not stay buffered";
}

TEST(Framer, WaitsForTheLfAfterAFullFrameAndItsCr) {
  Framer f(16);
  f.feed(std::string(16, 'a') + "\r");  // may still be a 16-byte frame ending in CRLF
  Framer::Status last;
  drain(f, &last);
  EXPECT_EQ(last, Framer::Status::kNeedMore);
  f.feed("\n");
  EXPECT_EQ(drain(f), (std::vector<std::string>{std::string(16, 'a')}));
  f.feed(std::string(16, 'b') + "\rx");  // the CR was not a terminator after all
  drain(f, &last);
  EXPECT_EQ(last, Framer::Status::kTooLarge);
}

TEST(Framer, StaysFailedAfterAnOversizeLine) {
  Framer f(8);
  f.feed(std::string(100, 'z'));
  std::string frame;
  EXPECT_EQ(f.next(frame), Framer::Status::kTooLarge);
  f.feed("ok\n");
  EXPECT_EQ(f.next(frame), Framer::Status::kTooLarge);
  EXPECT_EQ(f.next(frame), Framer::Status::kTooLarge);
  EXPECT_TRUE(f.failed());
}

TEST(Framer, DeliversEveryFrameOfALongStreamReadInOddChunks) {
  std::string stream;
  for (int i = 0; i < 5000; ++i) stream += std::to_string(i) + std::string(i % 300, '.') + "\n";
  Framer f;
  std::vector<std::string> frames;
  for (std::size_t pos = 0; pos < stream.size(); pos += 777) {
    f.feed(std::string_view(stream).substr(pos, 777));
    for (auto& fr : drain(f)) frames.push_back(fr);
  }
  ASSERT_EQ(frames.size(), 5000u);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_EQ(frames[i], std::to_string(i) + std::string(i % 300, '.'));
  }
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(Framer, FeedFramesStopsWhenTheConnectionClosesAndKeepsTheRestForLater) {
  Framer f;
  std::vector<std::string> got;
  EXPECT_TRUE(f.feedFrames("a\nb\nc", [&](const std::string& x) {
    got.push_back(x);
    return got.size() < 1;  // "closing" after the first frame
  }));
  EXPECT_EQ(got, (std::vector<std::string>{"a"}));
  EXPECT_TRUE(f.feedFrames("\n", [&](const std::string& x) {
    got.push_back(x);
    return true;
  }));
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Framer, FeedFramesReportsAnOversizeLine) {
  Framer f(8);
  int frames = 0;
  EXPECT_FALSE(f.feedFrames("ok\n0123456789\n", [&](const std::string&) { return ++frames > 0; }));
  EXPECT_EQ(frames, 1);
  EXPECT_EQ(f.tooLargeMessage(), "frame longer than 8 bytes");
}

}  // namespace
}  // namespace memvisor::proto
