// Encoding and decoding of single frames (one JSON object, no newline) to typed messages.
// decode() validates everything and never throws; it is safe on arbitrary bytes.
#pragma once

#include <string>
#include <string_view>

#include "memvisor/proto/messages.hpp"
#include "memvisor/result.hpp"

namespace memvisor::proto {

// One JSON object on one line, without the trailing newline.
std::string encode(const Message& m);
// encode() plus "\n": what goes on the wire.
std::string encodeFrame(const Message& m);

// Decodes one frame. Errors use the codes of errc:: (bad_json, unknown_type, missing_field,
// bad_field, out_of_range, frame_too_large) and name the offending field.
Result<Message> decode(std::string_view frame);

// Handshake order checker, one per connection side. The first frame must be a Hello (for
// the daemon side) or Welcome/ErrorMsg (for the peer side); after that, role rules apply.
class HandshakeState {
 public:
  enum class Side { kDaemon, kPeer };
  explicit HandshakeState(Side side) : side_(side) {}
  // Validates that `m` may arrive now; on success, advances the state.
  Result<void> accept(const Message& m);
  bool established() const { return established_; }
  Role role() const { return role_; }

 private:
  Side side_;
  bool established_ = false;
  Role role_ = Role::kBot;
};

// Checks a peer's version against ours: same major is compatible (any minor); otherwise an
// ErrorMsg with code incompatible_version is returned for sending.
std::optional<ErrorMsg> checkVersion(const Version& peer);

}  // namespace memvisor::proto
