// The handshake order rules and which peer may send which message type (PROTOCOL.md 4, 6).
#include <string>

#include "memvisor/proto/codec.hpp"

namespace memvisor::proto {

std::optional<ErrorMsg> checkVersion(const Version& peer) {
  if (peer.major == kProtocolMajor) return std::nullopt;
  return ErrorMsg{std::nullopt, errc::kIncompatibleVersion,
                  "protocol version " + std::to_string(peer.major) + "." +
                      std::to_string(peer.minor) + " is not compatible with " +
                      std::to_string(kProtocolMajor) + "." + std::to_string(kProtocolMinor) +
                      " (major versions differ)"};
}

namespace {

bool botMaySend(const Message& m) {
  return std::holds_alternative<ActionResult>(m) || std::holds_alternative<Pong>(m) ||
         std::holds_alternative<Stats>(m) || std::holds_alternative<Event>(m) ||
         std::holds_alternative<Ack>(m) || std::holds_alternative<ErrorMsg>(m);
}
bool controlMaySend(const Message& m) {
  return controlRequestOf(m).has_value() || std::holds_alternative<Subscribe>(m) ||
         std::holds_alternative<ErrorMsg>(m);
}
bool daemonMaySendToBot(const Message& m) {
  return std::holds_alternative<ActionRequest>(m) || std::holds_alternative<Ping>(m) ||
         std::holds_alternative<Shutdown>(m) || std::holds_alternative<Ack>(m) ||
         std::holds_alternative<ErrorMsg>(m);
}
bool daemonMaySendToControl(const Message& m) {
  return std::holds_alternative<StatusResult>(m) || std::holds_alternative<RunResult>(m) ||
         std::holds_alternative<LifecycleResult>(m) || std::holds_alternative<LimitResult>(m) ||
         std::holds_alternative<ReloadResult>(m) || std::holds_alternative<JournalEntry>(m) ||
         std::holds_alternative<Ack>(m) || std::holds_alternative<ErrorMsg>(m);
}

Error unexpected(const std::string& what) { return Error{errc::kUnexpected, what}; }

}  // namespace

Result<void> HandshakeState::accept(const Message& m) {
  const std::string type = typeName(m);
  if (side_ == Side::kDaemon) {
    if (!established_) {
      const auto* hello = std::get_if<Hello>(&m);
      if (!hello) return unexpected("expected hello as the first frame, got " + type);
      if (auto e = checkVersion(hello->version)) return Error{e->code, e->message};
      role_ = hello->role;
      established_ = true;
      return okResult();
    }
    const bool allowed = role_ == Role::kBot ? botMaySend(m) : controlMaySend(m);
    if (!allowed) {
      return unexpected(std::string("a ") + toString(role_) + " peer may not send " + type);
    }
    return okResult();
  }

  if (refused_) return unexpected("connection was refused by memvisord; got " + type);
  if (!established_) {
    if (std::holds_alternative<ErrorMsg>(m)) {
      refused_ = true;
      return okResult();
    }
    const auto* welcome = std::get_if<Welcome>(&m);
    if (!welcome) return unexpected("expected welcome or error as the first frame, got " + type);
    if (auto e = checkVersion(welcome->version)) return Error{e->code, e->message};
    established_ = true;
    return okResult();
  }
  bool allowed = false;
  if (!peer_role_) {
    allowed = daemonMaySendToBot(m) || daemonMaySendToControl(m);
  } else {
    allowed = *peer_role_ == Role::kBot ? daemonMaySendToBot(m) : daemonMaySendToControl(m);
  }
  if (!allowed) return unexpected("memvisord may not send " + type + " to this peer");
  return okResult();
}

}  // namespace memvisor::proto
