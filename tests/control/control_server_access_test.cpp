// ControlServer over real Unix sockets with FakeBackend: who may connect (SO_PEERCRED,
// allowed uids and groups, the connection cap and root's way past it), journal
// subscriptions (backlog, follow, slow subscribers), and the peer access rules.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>

#include "control_harness.hpp"

namespace memvisor::control {
namespace {

using namespace std::chrono_literals;
using testing::FakeBackend;
using testing::TempDir;

TEST(ControlServer, RefusesAUidThatIsNotAllowedAndReportsIt) {
  Options opt;
  opt.mode = 0666;  // let the filesystem pass it, so SO_PEERCRED decides
  Harness h(opt);
  ASSERT_TRUE(h.start().ok());
  const std::string path = h.path();
  const int status = asNobody([&] {
    const int fd = testing::connectRaw(path);
    if (fd < 0) return 10;
    testing::sendRaw(fd, testing::helloFrame());
    auto r = testing::readFrames(fd, std::chrono::milliseconds(5000));
    if (r.frames.size() != 1 || !r.eof) return 11;
    const auto* e = std::get_if<proto::ErrorMsg>(&r.frames[0]);
    if (e == nullptr || e->code != proto::errc::kNotPermitted) return 12;
    if (e->message.find("uid 65534") == std::string::npos) return 13;
    return 0;
  });
  EXPECT_EQ(status, 0);
  ASSERT_TRUE(h.waitNotice(Notice::Kind::kRefused, 2s));
  for (const auto& n : h.notices()) {
    if (n.kind == Notice::Kind::kRefused) {
      EXPECT_EQ(n.peer.uid, 65534u);
    }
  }
  EXPECT_EQ(h.backend().handled, 0);
}

TEST(ControlServer, AdmitsAnAllowedUid) {
  Options opt;
  opt.mode = 0666;
  opt.allow_uids = {65534};
  Harness h(opt);
  ASSERT_TRUE(h.start().ok());
  const std::string path = h.path();
  const int status = asNobody([&] {
    auto c = ctl::Client::connect(path, std::chrono::milliseconds(5000));
    if (!c) return 10;
    auto r = c->request(proto::StatusRequest{}, std::chrono::milliseconds(5000));
    return r.ok() && std::holds_alternative<proto::StatusResult>(*r) ? 0 : 11;
  });
  EXPECT_EQ(status, 0);
}

TEST(ControlServer, AdmitsAMemberOfAnAllowedGroup) {
  Options opt;
  opt.mode = 0666;
  opt.allow_gids = {65534};
  Harness h(opt);
  ASSERT_TRUE(h.start().ok());
  const std::string path = h.path();
  const int status = asNobody(
      [&] { return ctl::Client::connect(path, std::chrono::milliseconds(5000)).ok() ? 0 : 10; });
  EXPECT_EQ(status, 0);
}

TEST(ControlServer, RefusesConnectionsBeyondTheLimit) {
  Options opt;
  opt.max_connections = 1;
  opt.privileged_reserve = 0;
  Harness h(opt);
  h.backend().reply_delay_ms = 3000;  // the first connection is busy: nothing to evict
  ASSERT_TRUE(h.start().ok());
  auto first = connectClient(h.path());
  ASSERT_TRUE(first.send(proto::RunRequest{1, "amayo", proto::Action::kTrim}).ok());
  for (int i = 0; i < 500 && h.backend().handled.load() < 1; ++i) std::this_thread::sleep_for(10ms);
  auto second = ctl::Client::connect(h.path(), 5s);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, proto::errc::kBusy);
  EXPECT_TRUE(h.waitNotice(Notice::Kind::kTooManyConnections, 2s));
}

// A connection that said hello and is held open (read or not) by the test.
int idleConnection(const std::string& path) {
  const int fd = testing::connectRaw(path);
  testing::sendRaw(fd, testing::helloFrame());
  testing::readFrames(fd, 2s, 1);  // the welcome
  return fd;
}

// Idle connections filling the cap lock out nobody with root's or memvisord's uid: the
// longest-idle one is closed with `busy` to make room; other uids still get `busy`.
TEST(ControlServer, LetsRootInPastIdleConnectionsThatFillTheCap) {
  Options opt;
  opt.max_connections = 2;
  opt.mode = 0666;
  opt.allow_uids = {65534};
  Harness h(opt);
  ASSERT_TRUE(h.start().ok());
  const int oldest = idleConnection(h.path());
  std::this_thread::sleep_for(20ms);
  const int newer = idleConnection(h.path());
  const std::string path = h.path();
  const int status = asNobody([&] {
    auto c = ctl::Client::connect(path, std::chrono::milliseconds(5000));
    return !c.ok() && c.error().code == proto::errc::kBusy ? 0 : 10;
  });
  EXPECT_EQ(status, 0) << "an unprivileged peer must not evict anyone";
  auto root = connectClient(h.path());
  auto st = root.request(proto::StatusRequest{}, 5s);
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto evicted = testing::readFrames(oldest, 5s);
  ASSERT_EQ(evicted.frames.size(), 1u);
  EXPECT_EQ(std::get<proto::ErrorMsg>(evicted.frames[0]).code, proto::errc::kBusy);
  EXPECT_TRUE(evicted.eof);
  auto kept = testing::readFrames(newer, 200ms);
  EXPECT_TRUE(kept.frames.empty());
  EXPECT_FALSE(kept.eof);
  ::close(oldest);
  ::close(newer);
}

// Connections that are all busy are not evicted: root gets one of the reserved slots, and
// beyond those is told `busy` like everybody else.
TEST(ControlServer, GivesRootAReservedSlotWhenNoConnectionIsIdle) {
  Options opt;
  opt.max_connections = 1;
  opt.privileged_reserve = 1;
  Harness h(opt);
  h.backend().reply_delay_ms = 3000;  // keeps the first connection busy
  ASSERT_TRUE(h.start().ok());
  const int busy = testing::connectRaw(h.path());
  testing::sendRaw(busy, testing::helloFrame() + proto::encodeFrame(proto::RunRequest{
                                                     1, "amayo", proto::Action::kTrim}));
  testing::readFrames(busy, 2s, 1);
  for (int i = 0; i < 500 && h.backend().handled.load() < 1; ++i) std::this_thread::sleep_for(10ms);
  auto reserved = ctl::Client::connect(h.path(), 5s);
  ASSERT_TRUE(reserved.ok()) << reserved.error().code << ": " << reserved.error().message;
  ASSERT_TRUE(reserved->send(proto::RunRequest{9, "amayo", proto::Action::kTrim}).ok());  // busy
  for (int i = 0; i < 500 && h.backend().handled.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(h.backend().handled.load(), 2);
  auto third = ctl::Client::connect(h.path(), 5s);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, proto::errc::kBusy);
  ::close(busy);
}

// PROTOCOL.md 7.5: a subscription naming no configured bot is unknown_bot, not an ack.
TEST(ControlServer, AnswersUnknownBotToASubscriptionForABotThatDoesNotExist) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  auto c = connectClient(h.path());
  auto r = c.request(proto::Subscribe{0, std::string("nobody"), 60000, true}, 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto* e = std::get_if<proto::ErrorMsg>(&*r);
  ASSERT_NE(e, nullptr) << proto::typeName(*r);
  EXPECT_EQ(e->code, proto::errc::kUnknownBot);
  auto ok = c.request(proto::Subscribe{0, std::string("amayo"), 60000, false}, 5s);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(std::holds_alternative<proto::Ack>(*ok)) << proto::typeName(*ok);
}

std::vector<proto::JournalEntry> entriesOf(const std::vector<proto::Message>& frames) {
  std::vector<proto::JournalEntry> out;
  for (const auto& f : frames) {
    if (const auto* e = std::get_if<proto::JournalEntry>(&f)) out.push_back(*e);
  }
  return out;
}

TEST(ControlServer, SendsTheFilteredBacklogThenAckThenLiveEntries) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  h.record("amayo", "one");
  h.record("tester", "two");
  h.record("amayo", "three");
  const int fd = testing::connectRaw(h.path());
  proto::Subscribe sub{9, std::string("amayo"), 60000, true};
  testing::sendRaw(fd, testing::helloFrame() + proto::encodeFrame(sub));
  auto r = testing::readFrames(fd, 5s, 4);
  ASSERT_EQ(r.frames.size(), 4u);
  EXPECT_EQ(std::get<proto::JournalEntry>(r.frames[1]).message, "one");
  EXPECT_EQ(std::get<proto::JournalEntry>(r.frames[2]).message, "three");
  EXPECT_EQ(std::get<proto::Ack>(r.frames[3]).id, 9u);
  h.record("tester", "not for us");
  h.record("amayo", "live");
  auto live = testing::readFrames(fd, 5s, 1);
  ASSERT_EQ(live.frames.size(), 1u);
  EXPECT_EQ(std::get<proto::JournalEntry>(live.frames[0]).message, "live");
  ::close(fd);
  // The follower's disconnect ends its subscription and its session.
  for (int i = 0; i < 200 && h.connections() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(h.connections(), 0u);
  h.record("amayo", "after");  // must not reach a dead session
}

TEST(ControlServer, SendsNoBacklogWithoutSinceAndEndsWithoutFollow) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  h.record("amayo", "old");
  const int fd = testing::connectRaw(h.path());
  testing::sendRaw(fd, testing::helloFrame() + proto::encodeFrame(proto::Subscribe{
                                                   3, std::nullopt, std::nullopt, false}));
  auto r = testing::readFrames(fd, 1s, 2);
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(std::get<proto::Ack>(r.frames[1]).id, 3u);
  h.record("amayo", "new");
  EXPECT_TRUE(testing::readFrames(fd, 300ms, 1).frames.empty());
  ::close(fd);
}

TEST(ControlServer, StreamsABacklogLargerThanTheQueueBound) {
  Options opt;
  opt.max_queued_bytes = 8 * 1024;
  Harness h(opt);
  ASSERT_TRUE(h.start().ok());
  h.onIo([&] {
    for (int i = 0; i < 2000; ++i) {  // ~0.7 MiB: within the journal's backlog bound
      h.journal().record({testing::wallMs(),
                          "amayo",
                          "action",
                          proto::Level::kInfo,
                          "entry " + std::to_string(i),
                          {{"pad", std::string(100, 'p')}}});
    }
  });
  const int fd = testing::connectRaw(h.path());
  testing::sendRaw(fd, testing::helloFrame() +
                           proto::encodeFrame(proto::Subscribe{1, std::nullopt, 3600000, false}));
  auto r = testing::readFrames(fd, 10s, 2002);
  ASSERT_EQ(r.frames.size(), 2002u);
  EXPECT_EQ(entriesOf(r.frames).size(), 2000u);
  EXPECT_EQ(std::get<proto::JournalEntry>(r.frames[2000]).message, "entry 1999");
  EXPECT_TRUE(std::holds_alternative<proto::Ack>(r.frames[2001]));
  ::close(fd);
}

TEST(ControlServer, DropsASubscriberThatDoesNotReadWithoutBlockingTheDaemon) {
  Options opt;
  opt.max_queued_bytes = 16 * 1024;
  Harness h(opt);
  ASSERT_TRUE(h.start().ok());
  const int fd = testing::connectRaw(h.path());
  testing::sendRaw(fd, testing::helloFrame() + proto::encodeFrame(proto::Subscribe{
                                                   1, std::nullopt, std::nullopt, true}));
  testing::readFrames(fd, 2s, 2);  // welcome, ack; then stop reading
  const auto t0 = std::chrono::steady_clock::now();
  h.onIo([&] {
    for (int i = 0; i < 20000; ++i) {
      h.journal().record({testing::wallMs(),
                          "amayo",
                          "action",
                          proto::Level::kInfo,
                          "flood " + std::to_string(i),
                          {{"pad", std::string(200, 'p')}}});
    }
  });
  const auto spent = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(h.waitNotice(Notice::Kind::kSlowSubscriberDropped, 5s));
  auto rest = testing::readFrames(fd, 10s);
  EXPECT_TRUE(rest.eof);
  EXPECT_LT(rest.frames.size(), 20000u);
  // Other clients are still served.
  auto c = connectClient(h.path());
  EXPECT_TRUE(c.request(proto::StatusRequest{}, 5s).ok());
  std::cout << "[ measured ] 20000 journal records with a stalled subscriber took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(spent).count() << " ms\n";
  ::close(fd);
}

TEST(ControlServer, RefusesASecondSubscriptionOnOneConnection) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  const int fd = testing::connectRaw(h.path());
  testing::sendRaw(fd,
                   testing::helloFrame() +
                       proto::encodeFrame(proto::Subscribe{1, std::nullopt, std::nullopt, true}) +
                       proto::encodeFrame(proto::Subscribe{2, std::nullopt, std::nullopt, true}));
  auto r = testing::readFrames(fd, 2s, 3);
  ASSERT_EQ(r.frames.size(), 3u);
  const auto* e = std::get_if<proto::ErrorMsg>(&r.frames[2]);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kBusy);
  EXPECT_EQ(e->id, std::optional<std::uint64_t>(2));
  ::close(fd);
}

TEST(PeerAccess, AllowsByUidGidOrSupplementaryGroup) {
  AccessPolicy p{{0, 1000}, {50}};
  EXPECT_TRUE(isPermitted(p, PeerCred{1, 1000, 1000, {}}));
  EXPECT_TRUE(isPermitted(p, PeerCred{1, 1001, 50, {}}));
  EXPECT_TRUE(isPermitted(p, PeerCred{1, 1001, 1001, {4, 50}}));
  EXPECT_FALSE(isPermitted(p, PeerCred{1, 1001, 1001, {4, 24}}));
}

TEST(PeerAccess, ParsesGroupsFromProcStatus) {
  EXPECT_EQ(parseStatusGroups("Name:\tx\nGroups:\t4 24 27 \nNSpid:\t1\n"),
            (std::vector<gid_t>{4, 24, 27}));
  EXPECT_TRUE(parseStatusGroups("Name:\tx\nGroups:\t\n").empty());
  EXPECT_TRUE(parseStatusGroups("Groups:").empty());
  EXPECT_EQ(parseStatusGroups("Groups:\t7 bogus 9\n"), (std::vector<gid_t>{7}));
}

}  // namespace
}  // namespace memvisor::control
