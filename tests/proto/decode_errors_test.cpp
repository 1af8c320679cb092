// Decoding validates: every error code, its message naming the field, and no crash or
// exception on damaged frames.
#include <gtest/gtest.h>

#include <string>

#include "memvisor/proto/codec.hpp"
#include "samples.hpp"

namespace memvisor::proto {
namespace {

struct BadCase {
  const char* frame;
  const char* code;
  const char* message;  // exact message, or nullptr to check the code only
};

void expectError(std::string_view frame, const char* code, const char* message) {
  SCOPED_TRACE(std::string(frame.substr(0, 200)));
  const auto r = decode(frame);
  ASSERT_FALSE(r.ok()) << "decoded as " << typeName(*r);
  EXPECT_EQ(r.error().code, code) << r.error().message;
  if (message) {
    EXPECT_EQ(r.error().message, message);
  }
}

TEST(CodecDecode, RejectsMalformedJsonWithBadJson) {
  const BadCase cases[] = {
      {"", errc::kBadJson, nullptr},
      {"{", errc::kBadJson, nullptr},
      {"{\"type\":\"ping\",\"id\":1}x", errc::kBadJson, nullptr},
      {"{\"type\":\"ping\",\"id\":1}{}", errc::kBadJson, nullptr},
      {"{'type':'ping'}", errc::kBadJson, nullptr},
      {"{\"type\":\"ping\",\"id\":NaN}", errc::kBadJson, nullptr},
      {"{\"type\":\"ping\",\"id\":Infinity}", errc::kBadJson, nullptr},
      {"[1,2]", errc::kBadJson, "frame: must be a JSON object, got array"},
      {"\"ping\"", errc::kBadJson, "frame: must be a JSON object, got string"},
      {"null", errc::kBadJson, "frame: must be a JSON object, got null"},
      {"\xEF\xBB\xBF{\"type\":\"ping\",\"id\":1}", errc::kBadJson, nullptr},
      {"{\"type\":\"event\",\"level\":\"info\",\"message\":\"\xff\"}", errc::kBadJson, nullptr},
      {"{\"type\":\"event\",\"level\":\"info\",\"message\":\"\xC0\xAF\"}", errc::kBadJson,
       nullptr},
      {"{\"type\":\"event\",\"level\":\"info\",\"message\":\"\\ud800\"}", errc::kBadJson,
       nullptr},
  };
  for (const auto& c : cases) expectError(c.frame, c.code, c.message);
}

TEST(CodecDecode, RejectsDeepNestingWithBadJson) {
  std::string deep = "{\"type\":\"ping\",\"id\":1,\"x\":";
  for (int i = 0; i < 5000; ++i) deep += "[";
  for (int i = 0; i < 5000; ++i) deep += "]";
  deep += "}";
  expectError(deep, errc::kBadJson, "frame: nesting deeper than 16 levels");
  // Brackets inside strings do not count.
  std::string ok = R"({"type":"event","level":"info","message":")" + std::string(100, '[') +
                   R"(\"[[[[[[[[[[[[[[[[[[[["})";
  EXPECT_TRUE(decode(ok).ok());
}

TEST(CodecDecode, RejectsAFrameOverTheLimitWithFrameTooLarge) {
  std::string big = R"({"type":"event","level":"info","message":")";
  big += std::string(kMaxFrameBytes - big.size() - 2, 'm') + "\"}";
  ASSERT_EQ(big.size(), kMaxFrameBytes);
  EXPECT_TRUE(decode(big).ok());
  big.insert(big.size() - 2, "m");
  expectError(big, errc::kFrameTooLarge, "frame: 65537 bytes exceeds the limit of 65536");
}

TEST(CodecDecode, RejectsAnUnknownOrMissingType) {
  const BadCase cases[] = {
      {R"({"type":"tirm","id":1})", errc::kUnknownType, "frame: unknown message type \"tirm\""},
      {R"({"type":"TRIM","id":1})", errc::kUnknownType, nullptr},
      {R"({"type":"","id":1})", errc::kUnknownType, nullptr},
      {R"({"id":1})", errc::kMissingField, "frame: missing field \"type\""},
      {R"({"type":null,"id":1})", errc::kMissingField, nullptr},
      {R"({"type":7})", errc::kBadField, "frame: field \"type\": must be a string, got integer"},
  };
  for (const auto& c : cases) expectError(c.frame, c.code, c.message);
}

TEST(CodecDecode, NamesTheMissingField) {
  const BadCase cases[] = {
      {R"({"type":"trim","urgency":"high","deadline_ms":2000})", errc::kMissingField,
       "trim: missing field \"id\""},
      {R"({"type":"trim","id":7,"urgency":"high"})", errc::kMissingField,
       "trim: missing field \"deadline_ms\""},
      {R"({"type":"trim","id":7,"urgency":null,"deadline_ms":5})", errc::kMissingField,
       "trim: missing field \"urgency\""},
      {R"({"type":"hello","role":"bot","pid":1,"name":"a"})", errc::kMissingField,
       "hello: missing field \"version\""},
      {R"({"type":"hello","version":{"major":1},"role":"bot","pid":1,"name":"a"})",
       errc::kMissingField, "hello: missing field \"version.minor\""},
      {R"({"type":"status_result","id":1,"bots":[{"name":"a"}]})", errc::kMissingField,
       "status_result: missing field \"bots[0].state\""},
      {R"({"type":"action_result","id":1,"action":"trim","ok":true,"freed_bytes":0,)"
       R"("duration_ms":1,"details":[{"freed_bytes":1}]})",
       errc::kMissingField, "action_result: missing field \"details[0].name\""},
      {R"({"type":"run_result","id":1})", errc::kMissingField,
       "run_result: missing field \"results\""},
      {R"({"type":"error","message":"x"})", errc::kMissingField, "error: missing field \"code\""},
      {R"({"type":"journal","kind":"action","level":"info","message":""})", errc::kMissingField,
       "journal: missing field \"ts_ms\""},
  };
  for (const auto& c : cases) expectError(c.frame, c.code, c.message);
}

TEST(CodecDecode, NamesTheMistypedField) {
  const BadCase cases[] = {
      {R"({"type":"trim","id":"7","urgency":"high","deadline_ms":2000})", errc::kBadField,
       "trim: field \"id\": must be an integer, got string"},
      {R"({"type":"trim","id":7,"urgency":"high","deadline_ms":2000.5})", errc::kBadField,
       "trim: field \"deadline_ms\": must be an integer, got number"},
      {R"({"type":"trim","id":7,"urgency":"high","deadline_ms":2e-3})", errc::kBadField,
       "trim: field \"deadline_ms\": must be an integer, got number"},
      {R"({"type":"ping","id":1e400})", errc::kBadJson, nullptr},
      {R"({"type":"trim","id":7,"urgency":2,"deadline_ms":2000})", errc::kBadField,
       "trim: field \"urgency\": must be a string, got integer"},
      {R"({"type":"action_result","id":1,"action":"trim","ok":1,"freed_bytes":0,"duration_ms":1})",
       errc::kBadField, "action_result: field \"ok\": must be a boolean, got integer"},
      {R"({"type":"action_result","id":1,"action":"trim","ok":true,"freed_bytes":0,)"
       R"("duration_ms":"1"})",
       errc::kBadField, "action_result: field \"duration_ms\": must be a number, got string"},
      {R"({"type":"action_result","id":1,"action":"trim","ok":true,"freed_bytes":0,)"
       R"("duration_ms":1,"before":{"rss_bytes":true}})",
       errc::kBadField, "action_result: field \"before.rss_bytes\": must be an integer, got boolean"},
      {R"({"type":"hello","version":"1.0","role":"bot","pid":1,"name":"a"})", errc::kBadField,
       "hello: field \"version\": must be an object, got string"},
      {R"({"type":"hello","version":{"major":1,"minor":0},"role":"bot","pid":1,"name":"a",)"
       R"("capabilities":["trim",3]})",
       errc::kBadField, "hello: field \"capabilities[1]\": must be a string, got integer"},
      {R"({"type":"stats","caches":{"messages":"12"}})", errc::kBadField,
       "stats: field \"caches.messages\": must be an integer, got string"},
      {R"({"type":"stats","caches":[1]})", errc::kBadField,
       "stats: field \"caches\": must be an object of integers, got array"},
      {R"({"type":"event","level":"info","message":"m","fields":{"k":1}})", errc::kBadField,
       "event: field \"fields.k\": must be a string, got integer"},
      {R"({"type":"status_result","id":1,"bots":[1]})", errc::kBadField,
       "status_result: field \"bots[0]\": must be an object, got integer"},
      {R"({"type":"status_result","id":1,"bots":[{"name":"a","state":"RUNNING",)"
       R"("memory_state":"ok","pid":1,"uptime_ms":1,"connected":true,"metric":"rss",)"
       R"("limit_bytes":1,"limit_source":"config","restarts":0,"oom_kills":0,)"
       R"("thresholds_bytes":[1,"2"]}]})",
       errc::kBadField,
       "status_result: field \"bots[0].thresholds_bytes[1]\": must be an integer, got string"},
  };
  for (const auto& c : cases) expectError(c.frame, c.code, c.message);
}

TEST(CodecDecode, RejectsValuesOutOfRange) {
  const BadCase cases[] = {
      {R"({"type":"trim","id":7,"urgency":"high","deadline_ms":0})", errc::kOutOfRange,
       "trim: field \"deadline_ms\": must be 1..600000, got 0"},
      {R"({"type":"sweep","id":7,"urgency":"high","deadline_ms":600001})", errc::kOutOfRange,
       "sweep: field \"deadline_ms\": must be 1..600000, got 600001"},
      {R"({"type":"compact","id":7,"urgency":"urgent","deadline_ms":10})", errc::kOutOfRange,
       "compact: field \"urgency\": must be one of low|normal|high|critical, got \"urgent\""},
      {R"({"type":"ping","id":-1})", errc::kOutOfRange,
       "ping: field \"id\": must be 0..9007199254740991, got -1"},
      {R"({"type":"ping","id":9007199254740992})", errc::kOutOfRange, nullptr},
      {R"({"type":"ping","id":18446744073709551615})", errc::kOutOfRange, nullptr},
      {R"({"type":"ping","id":-9223372036854775808})", errc::kOutOfRange, nullptr},
      {R"({"type":"shutdown","id":1,"deadline_ms":-5})", errc::kOutOfRange, nullptr},
      {R"({"type":"hello","version":{"major":1,"minor":0},"role":"admin","pid":1,"name":"a"})",
       errc::kOutOfRange, "hello: field \"role\": must be one of bot|control, got \"admin\""},
      {R"({"type":"hello","version":{"major":1,"minor":0},"role":"bot","pid":1,"name":[]})",
       errc::kBadField, "hello: field \"name\": must be a string, got array"},
      {R"({"type":"run","id":1,"bot":"","action":"trim"})", errc::kOutOfRange,
       "run: field \"bot\": must not be empty"},
      {R"({"type":"hello","version":{"major":1,"minor":-1},"role":"bot","pid":1,"name":"a"})",
       errc::kOutOfRange, "hello: field \"version.minor\": must be 0..65535, got -1"},
      {R"({"type":"hello","version":{"major":1,"minor":0},"role":"bot","pid":4294967296,"name":"a"})",
       errc::kOutOfRange, nullptr},
      {R"({"type":"stats","rss_bytes":-1})", errc::kOutOfRange,
       "stats: field \"rss_bytes\": must be 0..9007199254740991, got -1"},
      {R"({"type":"stats","event_loop_lag_ms":-0.5})", errc::kOutOfRange, nullptr},
      {R"({"type":"stats","event_loop_lag_ms":1e300})", errc::kOutOfRange, nullptr},
      {R"({"type":"stats","caches":{"messages":-3}})", errc::kOutOfRange, nullptr},
      {R"({"type":"action_result","id":1,"action":"trim","ok":true,)"
       R"("freed_bytes":-9007199254740992,"duration_ms":1})",
       errc::kOutOfRange, nullptr},
      {R"({"type":"limit","id":1,"bot":"a","limit_bytes":0})", errc::kOutOfRange,
       "limit: field \"limit_bytes\": must be 1..9007199254740991, got 0"},
      {R"({"type":"lifecycle","id":1,"bot":"a","op":"kill"})", errc::kOutOfRange, nullptr},
      {R"({"type":"run","id":1,"bot":"","action":"trim"})", errc::kOutOfRange, nullptr},
      {R"({"type":"event","level":"fatal","message":"m"})", errc::kOutOfRange, nullptr},
      {R"({"type":"welcome","version":{"major":1,"minor":0},"pid":1,"name":"a",)"
       R"("stats_interval_ms":5})",
       errc::kOutOfRange, nullptr},
  };
  for (const auto& c : cases) expectError(c.frame, c.code, c.message);
}

TEST(CodecDecode, QuotesLongStringValuesShortAndPrintable) {
  const std::string frame = R"({"type":"trim","id":1,"urgency":")" + std::string(31, 'x') +
                            "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9" +
                            R"(\n","deadline_ms":5})";
  const auto r = decode(frame);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "trim: field \"urgency\": must be one of low|normal|high|critical, got \"" +
                std::string(31, 'x') + "\\u00e9\\u00e9\\u00e9\\u00e9...\"");
}

TEST(CodecDecode, IgnoresUnknownKeysForForwardCompatibility) {
  const auto r = decode(R"({"type":"trim","id":7,"urgency":"high","deadline_ms":2000,)"
                        R"("reason":"added in 1.1","nested":{"a":[1,2,{"b":null}]}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<ActionRequest>(*r), (ActionRequest{7, Action::kTrim, Urgency::kHigh, 2000, std::nullopt, std::nullopt}));
}

TEST(CodecDecode, AcceptsIntegralNumbersInAnySpelling) {
  for (const char* frame : {R"({"type":"trim","id":7.0,"urgency":"high","deadline_ms":2e3})",
                            R"({"type":"trim","id":7,"urgency":"high","deadline_ms":2000.000})",
                            R"({"type":"trim","id":0.7e1,"urgency":"high","deadline_ms":20E2})"}) {
    const auto r = decode(frame);
    ASSERT_TRUE(r.ok()) << frame << ": " << r.error().message;
    EXPECT_EQ(std::get<ActionRequest>(*r), (ActionRequest{7, Action::kTrim, Urgency::kHigh, 2000, std::nullopt, std::nullopt}));
  }
  const auto r = decode(R"({"type":"ping","id":9007199254740992.0})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::kOutOfRange);
  const auto neg = decode(R"({"type":"stats","rss_bytes":-1e20})");
  ASSERT_FALSE(neg.ok());
  EXPECT_EQ(neg.error().code, errc::kOutOfRange);
}

TEST(CodecDecode, TreatsNullAsAbsentForOptionalFields) {
  const auto r = decode(R"({"type":"pong","id":3,"uptime_ms":null})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<Pong>(*r), (Pong{3, std::nullopt}));
}

TEST(CodecDecode, AcceptsWhitespaceAndAnyKeyOrder) {
  const auto r = decode(" {\"deadline_ms\" : 2000 ,\"urgency\":\"low\", \"id\":0,\"type\":\"sweep\"}\t");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<ActionRequest>(*r), (ActionRequest{0, Action::kSweep, Urgency::kLow, 2000, std::nullopt, std::nullopt}));
}

TEST(CodecDecode, AppliesDocumentedDefaults) {
  const auto w = decode(R"({"type":"welcome","version":{"major":1,"minor":0},"pid":9,"name":"x"})");
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(std::get<Welcome>(*w).stats_interval_ms, 5000);
  const auto s = decode(R"({"type":"subscribe","id":4})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(std::get<Subscribe>(*s), (Subscribe{4, std::nullopt, std::nullopt, false}));
}

// Every prefix and every single-byte corruption of every sample must decode or fail
// cleanly, and whatever decodes must survive a re-encode unchanged.
TEST(CodecDecode, SurvivesTruncatedAndCorruptedFrames) {
  const char kBytes[] = {'\0', '"', '\\', '{', '}', '[', ']', ',', ':', '-', '1', 'e',
                         '.',  'n', '\xff', '\x80', ' '};
  int decoded = 0;
  int rejected = 0;
  auto check = [&](const std::string& frame) {
    const auto r = decode(frame);
    if (!r.ok()) {
      ++rejected;
      EXPECT_FALSE(r.error().code.empty());
      return;
    }
    ++decoded;
    const auto again = decode(encode(*r));
    ASSERT_TRUE(again.ok()) << frame;
    EXPECT_TRUE(*again == *r) << frame;
  };
  for (const auto& m : testing::fullMessages()) {
    const std::string wire = encode(m);
    for (std::size_t n = 0; n < wire.size(); ++n) check(wire.substr(0, n));
    for (std::size_t i = 0; i < wire.size(); i += 3) {
      for (char b : kBytes) {
        std::string bad = wire;
        bad[i] = b;
        check(bad);
      }
    }
  }
  EXPECT_GT(decoded, 0);
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace memvisor::proto
