// Keeps proto/PROTOCOL.md honest: every frame of its example conversations decodes, and
// each conversation follows the handshake rules from both ends.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "memvisor/proto/codec.hpp"

namespace memvisor::proto {
namespace {

struct Frame {
  int line;
  bool from_peer;  // '>' lines; '<' lines come from memvisord
  std::string text;
};

// The example conversations: runs of "> {...}" / "< {...}" lines inside ``` blocks.
std::vector<std::vector<Frame>> conversations() {
  std::ifstream in(MEMVISOR_PROTOCOL_MD);
  std::vector<std::vector<Frame>> out;
  std::string line;
  bool in_block = false;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("```", 0) == 0) {
      in_block = !in_block;
      if (in_block) out.emplace_back();
      continue;
    }
    if (!in_block || line.size() < 3) continue;
    if ((line[0] == '>' || line[0] == '<') && line[1] == ' ' && line[2] == '{') {
      out.back().push_back({n, line[0] == '>', line.substr(2)});
    }
  }
  std::erase_if(out, [](const auto& c) { return c.empty(); });
  return out;
}

TEST(ProtocolDoc, EveryExampleFrameDecodesAndFollowsTheHandshake) {
  const auto convs = conversations();
  ASSERT_GE(convs.size(), 4u) << "no example conversations found in " << MEMVISOR_PROTOCOL_MD;
  std::size_t frames = 0;
  for (const auto& conv : convs) {
    HandshakeState daemon(HandshakeState::Side::kDaemon);  // what memvisord receives
    std::optional<HandshakeState> peer;                    // what the peer receives
    std::optional<Error> refusal;  // memvisord's answer to the peer's last frame, if bad
    for (const auto& f : conv) {
      SCOPED_TRACE("PROTOCOL.md:" + std::to_string(f.line));
      ++frames;
      EXPECT_LE(f.text.size(), kMaxFrameBytes);
      const auto m = decode(f.text);
      if (f.from_peer) {
        ASSERT_FALSE(refusal.has_value()) << "the peer speaks after being refused";
        if (!m.ok()) {
          refusal = m.error();
          continue;
        }
        if (const auto* h = std::get_if<Hello>(&*m)) {
          peer.emplace(HandshakeState::Side::kPeer, h->role);
        }
        if (auto r = daemon.accept(*m); !r.ok()) refusal = r.error();
        continue;
      }
      ASSERT_TRUE(m.ok()) << m.error().message;
      if (refusal) {
        // The example must show exactly the error memvisord's decoder produces.
        const auto* e = std::get_if<ErrorMsg>(&*m);
        ASSERT_NE(e, nullptr) << "a refused frame must be answered with an error";
        EXPECT_EQ(e->code, refusal->code);
        EXPECT_EQ(e->message, refusal->message);
        EXPECT_EQ(&f, &conv.back()) << "nothing may follow a refusal";
        continue;
      }
      ASSERT_TRUE(peer.has_value()) << "memvisord speaks before hello";
      const auto r = peer->accept(*m);
      EXPECT_TRUE(r.ok()) << r.error().message;
    }
  }
  EXPECT_GT(frames, 30u);
}

}  // namespace
}  // namespace memvisor::proto
