// Encoding and decoding of single frames (one JSON object, no newline) to typed messages.
// decode() validates everything and never throws; it is safe on arbitrary bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "memvisor/proto/messages.hpp"
#include "memvisor/result.hpp"

namespace memvisor::proto {

// One JSON object on one line, without the trailing newline; "type" first, optional fields
// omitted when absent or empty. Never throws: invalid UTF-8 in a string becomes U+FFFD.
std::string encode(const Message& m);
// encode() plus "\n": what goes on the wire.
std::string encodeFrame(const Message& m);

// Decodes one frame. Errors use the codes of errc:: (bad_json, unknown_type, missing_field,
// bad_field, out_of_range, frame_too_large) and name the offending field, e.g.
// `trim: field "deadline_ms": must be 1..600000, got 0`. Unknown keys are ignored (a newer
// minor version may add optional fields); null means absent; integers may be spelt 2e3.
// Never throws, whatever the bytes (fuzzed: proto/fuzz).
Result<Message> decode(std::string_view frame);

// Handshake order checker, one per connection side. The first frame must be a Hello (for
// the daemon side) or Welcome/ErrorMsg (for the peer side); after that, role rules apply:
// the daemon accepts from a bot only action_result/pong/stats/event/ack/error and from a
// control client only status/run/lifecycle/limit/reload/subscribe/error. A peer that names
// its own role also gets the daemon's frames checked against that role; without it, any
// daemon -> peer type is accepted. A rejected frame leaves the state unchanged; the caller
// replies with an error (code unexpected_message or incompatible_version) and closes.
class HandshakeState {
 public:
  enum class Side { kDaemon, kPeer };
  explicit HandshakeState(Side side, std::optional<Role> peer_role = std::nullopt)
      : side_(side), peer_role_(peer_role), role_(peer_role.value_or(Role::kBot)) {}
  // Validates that `m` may arrive now; on success, advances the state. A Hello or Welcome
  // whose major version differs from ours is refused with incompatible_version.
  Result<void> accept(const Message& m);
  bool established() const { return established_; }
  // True once the peer side received an error instead of a welcome: nothing else may come.
  bool refused() const { return refused_; }
  // Daemon side: the role the hello announced. Peer side: the role given at construction.
  Role role() const { return role_; }

 private:
  Side side_;
  std::optional<Role> peer_role_;
  bool established_ = false;
  bool refused_ = false;
  Role role_ = Role::kBot;
};

// Checks a peer's version against ours: same major is compatible (any minor); otherwise an
// ErrorMsg with code incompatible_version is returned for sending.
std::optional<ErrorMsg> checkVersion(const Version& peer);

}  // namespace memvisor::proto
