// libFuzzer target for the protocol's untrusted-input path: stream framer, frame decoder,
// handshake rules and the encoder's round trip. Any crash, sanitizer report or broken
// invariant (abort) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "memvisor/proto/codec.hpp"
#include "memvisor/proto/framer.hpp"

namespace {

using namespace memvisor::proto;

[[noreturn]] void die(const char* what, std::string_view detail) {
  std::fprintf(stderr, "invariant broken: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

bool knownDecodeError(const std::string& code) {
  return code == errc::kBadJson || code == errc::kFrameTooLarge || code == errc::kUnknownType ||
         code == errc::kMissingField || code == errc::kBadField || code == errc::kOutOfRange;
}

// Decodes one frame and checks what a valid decode promises.
void checkFrame(std::string_view frame, HandshakeState& daemon,
                std::vector<HandshakeState>& peers) {
  const auto r = decode(frame);
  if (!r.ok()) {
    if (!knownDecodeError(r.error().code)) die("unknown error code", r.error().code);
    if (r.error().message.empty()) die("empty error message", frame);
    return;
  }
  const Message& m = *r;
  const std::string wire = encode(m);
  if (wire.find('\n') != std::string::npos) die("newline in encoded frame", wire);
  // Re-encoding may grow a frame (defaults filled in, 1e2 -> 100.0): only frames that
  // still fit can be re-decoded.
  if (wire.size() <= kMaxFrameBytes) {
    const auto again = decode(wire);
    if (!again.ok()) die("re-encoded frame does not decode", again.error().message);
    if (!(*again == m)) die("round trip changed the message", wire);
    if (encode(*again) != wire) die("encoding is not stable", wire);
  }
  const auto a = daemon.accept(m);
  if (!a.ok() && a.error().code != errc::kUnexpected &&
      a.error().code != errc::kIncompatibleVersion) {
    die("handshake error code", a.error().code);
  }
  for (auto& peer : peers) {
    const auto b = peer.accept(m);
    if (!b.ok() && b.error().code != errc::kUnexpected &&
        b.error().code != errc::kIncompatibleVersion) {
      die("handshake error code", b.error().code);
    }
    if (peer.established() && peer.refused()) die("peer both established and refused", frame);
  }
}

std::vector<HandshakeState> peerSides() {
  std::vector<HandshakeState> v;
  v.emplace_back(HandshakeState::Side::kPeer);
  v.emplace_back(HandshakeState::Side::kPeer, Role::kBot);
  v.emplace_back(HandshakeState::Side::kPeer, Role::kControl);
  return v;
}

// Runs the framer over `data` in chunks whose sizes come from the data itself; returns the
// frames and whether the stream ended in an oversize line.
std::vector<std::string> frames(std::string_view data, std::size_t max, bool chunked,
                                bool& too_large) {
  Framer f(max);
  std::vector<std::string> out;
  too_large = false;
  std::size_t pos = 0;
  while (pos < data.size() && !too_large) {
    const std::size_t n =
        chunked ? 1 + static_cast<unsigned char>(data[pos]) % 17 : data.size() - pos;
    f.feed(data.substr(pos, n));
    pos += n;
    std::string frame;
    Framer::Status s;
    while ((s = f.next(frame)) == Framer::Status::kFrame) {
      if (frame.size() > max) die("framer returned an oversize frame", frame);
      if (frame.find('\n') != std::string::npos) die("framer returned a newline", frame);
      out.push_back(frame);
    }
    too_large = s == Framer::Status::kTooLarge;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // The whole input as one frame.
  {
    HandshakeState daemon(HandshakeState::Side::kDaemon);
    auto peers = peerSides();
    checkFrame(input, daemon, peers);
  }

  // The input as a stream: one read at a time must frame exactly like a single read.
  for (const std::size_t max : {kMaxFrameBytes, std::size_t{64}}) {
    bool big_whole = false;
    bool big_chunked = false;
    const auto whole = frames(input, max, false, big_whole);
    const auto chunked = frames(input, max, true, big_chunked);
    if (whole != chunked || big_whole != big_chunked) die("framing depends on read sizes", input);
    HandshakeState daemon(HandshakeState::Side::kDaemon);
    auto peers = peerSides();
    for (const auto& frame : whole) checkFrame(frame, daemon, peers);
  }
  return 0;
}
