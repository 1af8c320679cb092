// Round trips of every message type through encode/decode, and the wire form of each.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "memvisor/proto/codec.hpp"
#include "samples.hpp"

namespace memvisor::proto {
namespace {

using nlohmann::json;

void expectRoundTrip(const Message& m) {
  const std::string wire = encode(m);
  SCOPED_TRACE(wire);
  EXPECT_EQ(wire.find('\n'), std::string::npos);
  const auto back = decode(wire);
  ASSERT_TRUE(back.ok()) << back.error().code << ": " << back.error().message;
  EXPECT_EQ(back->index(), m.index());
  EXPECT_TRUE(*back == m);
  EXPECT_EQ(typeName(*back), typeName(m));
  EXPECT_EQ(json::parse(wire).at("type"), typeName(m));
  EXPECT_EQ(encodeFrame(m), wire + "\n");
}

TEST(CodecRoundTrip, PreservesEveryFieldOfEveryType) {
  const auto msgs = testing::fullMessages();
  std::set<std::size_t> kinds;
  for (const auto& m : msgs) {
    expectRoundTrip(m);
    kinds.insert(m.index());
  }
  EXPECT_EQ(kinds.size(), std::variant_size_v<Message>) << "a message type has no sample";
}

TEST(CodecRoundTrip, PreservesMinimalMessagesOfEveryType) {
  const auto msgs = testing::minimalMessages();
  std::set<std::size_t> kinds;
  for (const auto& m : msgs) {
    expectRoundTrip(m);
    kinds.insert(m.index());
  }
  EXPECT_EQ(kinds.size(), std::variant_size_v<Message>);
}

TEST(CodecEncode, WritesTheDocumentedWireForm) {
  EXPECT_EQ(encode(ActionRequest{7, Action::kTrim, Urgency::kHigh, 2000, std::nullopt, std::nullopt}),
            R"({"type":"trim","id":7,"urgency":"high","deadline_ms":2000})");
  EXPECT_EQ(encode(Hello{{1, 0}, Role::kBot, 42, "amayo", {"trim"}}),
            R"({"type":"hello","version":{"major":1,"minor":0},"role":"bot","pid":42,)"
            R"("name":"amayo","capabilities":["trim"]})");
  Stats s;
  s.mem.rss_bytes = 1000;
  s.caches = {{"messages", 3}};
  EXPECT_EQ(encode(s), R"({"type":"stats","rss_bytes":1000,"caches":{"messages":3}})");
  EXPECT_EQ(encode(ErrorMsg{std::nullopt, "bad_json", "x"}),
            R"({"type":"error","code":"bad_json","message":"x"})");
}

TEST(CodecEncode, OmitsOptionalFieldsWhenAbsent) {
  EXPECT_EQ(encode(ActionResult{}),
            R"({"type":"action_result","id":0,"action":"trim","ok":true,"freed_bytes":0,)"
            R"("duration_ms":0.0})");
  EXPECT_EQ(encode(Subscribe{}), R"({"type":"subscribe","id":0})");
  EXPECT_EQ(encode(LimitRequest{3, "amayo", std::nullopt}),
            R"({"type":"limit","id":3,"bot":"amayo"})");
}

TEST(CodecEncode, ReplacesInvalidUtf8InsteadOfThrowing) {
  Event e{Level::kInfo, std::string("bad \xff byte"), {}};
  const std::string wire = encode(e);
  const auto back = decode(wire);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(std::get<Event>(*back).message, "bad \xEF\xBF\xBD byte");
}

}  // namespace
}  // namespace memvisor::proto
