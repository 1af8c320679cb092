// Handshake order, role rules and version compatibility.
#include <gtest/gtest.h>

#include "memvisor/proto/codec.hpp"

namespace memvisor::proto {
namespace {

Hello hello(Role role, Version v = {}) { return Hello{v, role, 42, "amayo", {}}; }
Welcome welcome(Version v = {}) { return Welcome{v, 1, "amayo", {}, 5000}; }

void expectRefused(HandshakeState& hs, const Message& m, const char* code) {
  const auto r = hs.accept(m);
  ASSERT_FALSE(r.ok()) << typeName(m) << " was accepted";
  EXPECT_EQ(r.error().code, code) << r.error().message;
}

TEST(Handshake, DaemonRequiresHelloFirst) {
  HandshakeState hs(HandshakeState::Side::kDaemon);
  expectRefused(hs, Stats{}, errc::kUnexpected);
  expectRefused(hs, ErrorMsg{std::nullopt, "x", "y"}, errc::kUnexpected);
  expectRefused(hs, StatusRequest{}, errc::kUnexpected);
  EXPECT_FALSE(hs.established());
  EXPECT_EQ(hs.accept(Ping{}).error().message, "expected hello as the first frame, got ping");
  ASSERT_TRUE(hs.accept(hello(Role::kBot)).ok());
  EXPECT_TRUE(hs.established());
  EXPECT_EQ(hs.role(), Role::kBot);
}

TEST(Handshake, DaemonAcceptsOnlyBotMessagesFromABot) {
  HandshakeState hs(HandshakeState::Side::kDaemon);
  ASSERT_TRUE(hs.accept(hello(Role::kBot)).ok());
  for (const Message& m : {Message{ActionResult{}}, Message{Pong{}}, Message{Stats{}},
                           Message{Event{}}, Message{Ack{}}, Message{ErrorMsg{}}}) {
    EXPECT_TRUE(hs.accept(m).ok()) << typeName(m);
  }
  for (const Message& m :
       {Message{hello(Role::kBot)}, Message{welcome()}, Message{ActionRequest{}}, Message{Ping{}},
        Message{Shutdown{}}, Message{StatusRequest{}}, Message{RunRequest{}},
        Message{LifecycleRequest{}}, Message{LimitRequest{}}, Message{ReloadRequest{}},
        Message{Subscribe{}}, Message{JournalEntry{}}, Message{StatusResult{}}}) {
    expectRefused(hs, m, errc::kUnexpected);
  }
  EXPECT_EQ(hs.accept(Subscribe{}).error().message, "a bot peer may not send subscribe");
}

TEST(Handshake, DaemonAcceptsOnlyControlRequestsFromAControlClient) {
  HandshakeState hs(HandshakeState::Side::kDaemon);
  ASSERT_TRUE(hs.accept(hello(Role::kControl)).ok());
  EXPECT_EQ(hs.role(), Role::kControl);
  for (const Message& m : {Message{StatusRequest{}}, Message{RunRequest{}},
                           Message{LifecycleRequest{}}, Message{LimitRequest{}},
                           Message{ReloadRequest{}}, Message{Subscribe{}}, Message{ErrorMsg{}}}) {
    EXPECT_TRUE(hs.accept(m).ok()) << typeName(m);
  }
  for (const Message& m : {Message{hello(Role::kControl)}, Message{Stats{}}, Message{Event{}},
                           Message{ActionResult{}}, Message{Pong{}}, Message{Ack{}},
                           Message{ActionRequest{}}, Message{StatusResult{}}}) {
    expectRefused(hs, m, errc::kUnexpected);
  }
}

TEST(Handshake, DaemonRefusesAnotherMajorVersion) {
  HandshakeState hs(HandshakeState::Side::kDaemon);
  const auto r = hs.accept(hello(Role::kBot, {2, 0}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::kIncompatibleVersion);
  EXPECT_FALSE(hs.established());
  EXPECT_TRUE(hs.accept(hello(Role::kBot, {1, 7})).ok()) << "a newer minor is compatible";
}

TEST(Handshake, PeerRequiresWelcomeOrErrorFirst) {
  HandshakeState hs(HandshakeState::Side::kPeer, Role::kBot);
  expectRefused(hs, ActionRequest{}, errc::kUnexpected);
  expectRefused(hs, hello(Role::kBot), errc::kUnexpected);
  ASSERT_TRUE(hs.accept(welcome()).ok());
  EXPECT_TRUE(hs.established());
  EXPECT_TRUE(hs.accept(ActionRequest{}).ok());
  EXPECT_TRUE(hs.accept(Ping{}).ok());
  EXPECT_TRUE(hs.accept(Shutdown{}).ok());
  EXPECT_TRUE(hs.accept(ErrorMsg{}).ok());
  expectRefused(hs, welcome(), errc::kUnexpected);
  expectRefused(hs, StatusResult{}, errc::kUnexpected);
  expectRefused(hs, JournalEntry{}, errc::kUnexpected);
}

TEST(Handshake, PeerWithControlRoleAcceptsOnlyControlReplies) {
  HandshakeState hs(HandshakeState::Side::kPeer, Role::kControl);
  ASSERT_TRUE(hs.accept(welcome()).ok());
  for (const Message& m : {Message{StatusResult{}}, Message{RunResult{}},
                           Message{LifecycleResult{}}, Message{LimitResult{}},
                           Message{ReloadResult{}}, Message{JournalEntry{}}, Message{Ack{}},
                           Message{ErrorMsg{}}}) {
    EXPECT_TRUE(hs.accept(m).ok()) << typeName(m);
  }
  expectRefused(hs, ActionRequest{}, errc::kUnexpected);
  expectRefused(hs, Ping{}, errc::kUnexpected);
}

TEST(Handshake, PeerWithoutRoleAcceptsAnyDaemonMessage) {
  HandshakeState hs(HandshakeState::Side::kPeer);
  ASSERT_TRUE(hs.accept(welcome()).ok());
  EXPECT_TRUE(hs.accept(ActionRequest{}).ok());
  EXPECT_TRUE(hs.accept(JournalEntry{}).ok());
  expectRefused(hs, Stats{}, errc::kUnexpected);
  expectRefused(hs, StatusRequest{}, errc::kUnexpected);
}

TEST(Handshake, PeerRefusedByAnErrorAcceptsNothingMore) {
  HandshakeState hs(HandshakeState::Side::kPeer, Role::kBot);
  ASSERT_TRUE(hs.accept(ErrorMsg{std::nullopt, errc::kIncompatibleVersion, "no"}).ok());
  EXPECT_TRUE(hs.refused());
  EXPECT_FALSE(hs.established());
  expectRefused(hs, welcome(), errc::kUnexpected);
  expectRefused(hs, ErrorMsg{}, errc::kUnexpected);
}

TEST(Handshake, PeerRefusesAWelcomeOfAnotherMajorVersion) {
  HandshakeState hs(HandshakeState::Side::kPeer, Role::kBot);
  expectRefused(hs, welcome({0, 9}), errc::kIncompatibleVersion);
  EXPECT_FALSE(hs.established());
}

TEST(Version, SameMajorIsCompatibleWhateverTheMinor) {
  EXPECT_FALSE(checkVersion({kProtocolMajor, 0}).has_value());
  EXPECT_FALSE(checkVersion({kProtocolMajor, kProtocolMinor}).has_value());
  EXPECT_FALSE(checkVersion({kProtocolMajor, 65535}).has_value());
}

TEST(Version, OtherMajorGivesIncompatibleVersionError) {
  const auto e = checkVersion({2, 0});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, errc::kIncompatibleVersion);
  EXPECT_FALSE(e->id.has_value());
  EXPECT_EQ(e->message, "protocol version 2.0 is not compatible with 1.1 (major versions differ)");
  EXPECT_TRUE(checkVersion({0, 5}).has_value());
}

TEST(ControlRequests, OneListForTheHandshakeTheSessionAndTheBackend) {
  EXPECT_TRUE(controlRequestOf(StatusRequest{}).has_value());
  EXPECT_TRUE(controlRequestOf(ReloadRequest{}).has_value());
  EXPECT_FALSE(controlRequestOf(Subscribe{}).has_value()) << "served by the control endpoint";
  EXPECT_FALSE(controlRequestOf(Ping{}).has_value());
  RunRequest run;
  run.id = 7;
  run.bot = "amayo";
  auto r = controlRequestOf(run);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(std::get<RunRequest>(toMessage(*r)), run);
}

}  // namespace
}  // namespace memvisor::proto
