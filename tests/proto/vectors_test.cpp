// Runs the golden vectors of proto/vectors/ (format: proto/vectors/README.md), the same
// files the Node.js client runs, against the C++ framer, decoder and handshake rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "memvisor/proto/codec.hpp"
#include "memvisor/proto/framer.hpp"

namespace memvisor::proto {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Line {
  std::string where;  // file:line name
  json value;
};

std::vector<Line> readJsonl(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".jsonl") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Line> out;
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::string text;
    int n = 0;
    while (std::getline(in, text)) {
      ++n;
      if (text.empty()) continue;
      const std::string where = path.filename().string() + ":" + std::to_string(n);
      json j = json::parse(text, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        ADD_FAILURE() << where << ": not a JSON object";
        continue;
      }
      out.push_back({where + " " + j.value("name", std::string("?")), std::move(j)});
    }
  }
  return out;
}

std::string fromHex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string frameOf(const json& v) {
  if (v.contains("frame_hex")) return fromHex(v.at("frame_hex").get<std::string>());
  return v.at("frame").get<std::string>();
}

// The type a (possibly invalid) frame claims, for coverage accounting.
std::string claimedType(const std::string& frame) {
  const json j = json::parse(frame, nullptr, false);
  if (j.is_object() && j.contains("type") && j["type"].is_string()) return j["type"];
  return "";
}

const std::vector<std::string> kAllTypes = {
    "hello",  "welcome",       "error",  "ack",        "trim",      "sweep",
    "compact", "ping",         "shutdown", "action_result", "pong", "stats",
    "event",  "status",        "status_result", "run", "run_result", "lifecycle",
    "lifecycle_result", "limit", "limit_result", "reload", "reload_result", "subscribe",
    "journal"};

TEST(GoldenVectors, EveryFrameVectorDecodesAsExpected) {
  const auto lines = readJsonl(MEMVISOR_PROTO_VECTORS_DIR);
  ASSERT_GT(lines.size(), 100u) << "vectors not found in " << MEMVISOR_PROTO_VECTORS_DIR;
  std::set<std::string> names;
  std::map<std::string, int> valid_per_type;
  std::map<std::string, int> invalid_per_type;
  std::set<std::string> codes;
  for (const auto& [where, v] : lines) {
    SCOPED_TRACE(where);
    EXPECT_TRUE(names.insert(v.value("name", "")).second) << "duplicate vector name";
    const std::string frame = frameOf(v);
    const json& expect = v.at("expect");
    const auto r = decode(frame);
    if (expect.contains("type")) {
      ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().message;
      const std::string type = expect.at("type");
      EXPECT_EQ(typeName(*r), type);
      ++valid_per_type[type];
      // Re-encoding gives a frame that decodes to the same message.
      const std::string again = encode(*r);
      const auto r2 = decode(again);
      ASSERT_TRUE(r2.ok()) << again;
      EXPECT_TRUE(*r2 == *r) << again;
      if (expect.contains("decoded")) {
        EXPECT_EQ(json::parse(again), expect.at("decoded")) << again;
      }
    } else {
      const std::string code = expect.at("error");
      ASSERT_FALSE(r.ok()) << "decoded as " << typeName(*r);
      EXPECT_EQ(r.error().code, code) << r.error().message;
      codes.insert(code);
      if (expect.contains("field")) {
        const std::string field = "\"" + expect.at("field").get<std::string>() + "\"";
        EXPECT_NE(r.error().message.find(field), std::string::npos)
            << r.error().message << " does not name " << field;
      }
      ++invalid_per_type[claimedType(frame)];
    }
  }
  for (const auto& t : kAllTypes) {
    EXPECT_GT(valid_per_type[t], 0) << "no valid vector for " << t;
    EXPECT_GT(invalid_per_type[t], 0) << "no invalid vector for " << t;
  }
  for (const char* c : {errc::kBadJson, errc::kFrameTooLarge, errc::kUnknownType,
                        errc::kMissingField, errc::kBadField, errc::kOutOfRange}) {
    EXPECT_TRUE(codes.count(c)) << "no vector for error code " << c;
  }
}

// Every vector also goes through the stream framer, CRLF-terminated and in 7-byte reads:
// what comes out must be the frame itself, or frame_too_large for an oversize line.
TEST(GoldenVectors, EveryFrameVectorSurvivesTheFramer) {
  for (const auto& [where, v] : readJsonl(MEMVISOR_PROTO_VECTORS_DIR)) {
    SCOPED_TRACE(where);
    const std::string frame = frameOf(v);
    const std::string stream = frame + "\r\n";
    Framer f;
    std::vector<std::string> out;
    Framer::Status s = Framer::Status::kNeedMore;
    for (std::size_t pos = 0; pos < stream.size() && s != Framer::Status::kTooLarge; pos += 7) {
      f.feed(std::string_view(stream).substr(pos, 7));
      std::string fr;
      while ((s = f.next(fr)) == Framer::Status::kFrame) out.push_back(fr);
    }
    const bool too_large = v.at("expect").value("error", "") == errc::kFrameTooLarge;
    if (too_large) {
      EXPECT_EQ(s, Framer::Status::kTooLarge);
    } else if (frame.find_first_not_of(" \t\r") == std::string::npos) {
      EXPECT_TRUE(out.empty()) << "a blank line is not a frame";
    } else {
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0], frame);
    }
  }
}

TEST(GoldenVectors, EverySessionVectorFollowsTheHandshakeRules) {
  const auto lines = readJsonl(fs::path(MEMVISOR_PROTO_VECTORS_DIR) / "sessions");
  ASSERT_GT(lines.size(), 5u);
  for (const auto& [where, v] : lines) {
    SCOPED_TRACE(where);
    const auto side = v.at("side") == "daemon" ? HandshakeState::Side::kDaemon
                                               : HandshakeState::Side::kPeer;
    std::optional<Role> role;
    if (v.contains("role")) role = parseRole(v.at("role").get<std::string>());
    HandshakeState hs(side, role);
    int step = 0;
    for (const auto& s : v.at("steps")) {
      SCOPED_TRACE("step " + std::to_string(step++));
      const auto m = decode(s.at("frame").get<std::string>());
      ASSERT_TRUE(m.ok()) << m.error().message;
      const auto r = hs.accept(*m);
      const std::string expect = s.at("expect");
      if (expect == "ok") {
        EXPECT_TRUE(r.ok()) << r.error().message;
      } else {
        ASSERT_FALSE(r.ok()) << typeName(*m) << " accepted";
        EXPECT_EQ(r.error().code, expect) << r.error().message;
      }
    }
  }
}

}  // namespace
}  // namespace memvisor::proto
