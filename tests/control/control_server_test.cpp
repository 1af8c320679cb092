// ControlServer over real Unix sockets with FakeBackend: socket creation and permissions,
// handshake, every control request, answers in parts, malformed frames and timeouts.
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

TEST(ControlServer, CreatesSocketWithMode0600ByDefault) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  const mode_t m = modeOf(h.path());
  EXPECT_TRUE(S_ISSOCK(m));
  EXPECT_EQ(m & 07777, 0600u);
}

TEST(ControlServer, CreatesSocketWithMode0660AndGroupWhenGroupConfigured) {
  Options opt;
  opt.group = "65534";
  Harness h(opt);
  ASSERT_TRUE(h.start().ok());
  struct stat st {};
  ASSERT_EQ(::lstat(h.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, 65534u);
}

TEST(ControlServer, RefusesToStartWhenGroupDoesNotExist) {
  Options opt;
  opt.group = "no-such-group-memvisor";
  Harness h(opt);
  auto r = h.start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no-such-group-memvisor"), std::string::npos);
}

TEST(ControlServer, RemovesStaleSocketWhenNobodyListens) {
  Harness h;
  {
    // A socket file left behind by a crashed daemon.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, h.path().c_str(), sizeof(a.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
  }
  ASSERT_TRUE(h.start().ok());
  auto c = connectClient(h.path());
  EXPECT_GT(c.daemonPid(), 0);
}

TEST(ControlServer, KeepsARegularFileInTheWay) {
  Harness h;
  { std::ofstream(h.path()) << "not a socket"; }
  auto r = h.start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("is not a socket"), std::string::npos);
  EXPECT_TRUE(S_ISREG(modeOf(h.path())));
}

TEST(ControlServer, RefusesToTakeOverALiveSocket) {
  Harness first;
  ASSERT_TRUE(first.start().ok());
  boost::asio::io_context io;
  journal::Journal j(journal::Options{});
  FakeBackend b(io, j);
  Options opt;
  opt.path = first.path();
  ControlServer second(io, opt, b, j);
  auto r = second.start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("another memvisord"), std::string::npos);
  auto c = connectClient(first.path());  // the first one still serves
  EXPECT_GT(c.daemonPid(), 0);
}

TEST(ControlServer, UnlinksSocketOnStop) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  h.stop();
  EXPECT_FALSE(std::filesystem::exists(h.path()));
}

TEST(ControlServer, AnswersStatusAfterHandshake) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  auto c = connectClient(h.path());
  EXPECT_EQ(c.daemonPid(), ::getpid());
  auto r = c.request(proto::StatusRequest{0, {"amayo"}}, 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto* s = std::get_if<proto::StatusResult>(&*r);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->bots.size(), 1u);
  EXPECT_EQ(s->bots[0].name, "amayo");
  EXPECT_EQ(s->bots[0].pid, 4242);
}

TEST(ControlServer, PassesEveryControlRequestToTheBackendAndEchoesIds) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  auto c = connectClient(h.path());
  auto run = c.request(proto::RunRequest{0, "amayo", proto::Action::kSweep}, 5s);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(std::holds_alternative<proto::RunResult>(*run));
  EXPECT_EQ(std::get<proto::RunResult>(*run).results.at(0).freed_bytes, FakeBackend::kSweepFreed);
  auto life = c.request(proto::LifecycleRequest{0, "amayo", proto::LifecycleOp::kRestart}, 5s);
  ASSERT_TRUE(life.ok());
  ASSERT_TRUE(std::holds_alternative<proto::LifecycleResult>(*life));
  auto lim = c.request(proto::LimitRequest{0, "amayo", 512 * FakeBackend::kMiB}, 5s);
  ASSERT_TRUE(lim.ok());
  ASSERT_TRUE(std::holds_alternative<proto::LimitResult>(*lim));
  EXPECT_EQ(std::get<proto::LimitResult>(*lim).source, "runtime");
  auto rel = c.request(proto::ReloadRequest{}, 5s);
  ASSERT_TRUE(rel.ok());
  ASSERT_TRUE(std::holds_alternative<proto::ReloadResult>(*rel));
  auto unknown = c.request(proto::StatusRequest{0, {"nope"}}, 5s);
  ASSERT_TRUE(unknown.ok());
  const auto* e = std::get_if<proto::ErrorMsg>(&*unknown);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kUnknownBot);
  EXPECT_EQ(h.backend().handled, 5);
}

TEST(ControlServer, AnswersPipelinedRequestsOnOneConnection) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  const int fd = testing::connectRaw(h.path());
  ASSERT_GE(fd, 0);
  std::string bytes = testing::helloFrame();
  for (std::uint64_t id = 1; id <= 5; ++id)
    bytes += proto::encodeFrame(proto::StatusRequest{id, {}});
  testing::sendRaw(fd, bytes);
  auto r = testing::readFrames(fd, 5s, 6);
  ASSERT_EQ(r.frames.size(), 6u);
  EXPECT_TRUE(std::holds_alternative<proto::Welcome>(r.frames[0]));
  for (std::size_t i = 1; i < 6; ++i) EXPECT_EQ(std::get<proto::StatusResult>(r.frames[i]).id, i);
  ::close(fd);
}

// PROTOCOL.md 7.6: 500 bots do not fit in a frame; a 1.1 client gets them in parts.
TEST(ControlServer, SendsALargeAnswerInPartsToAClientThatAnnouncedThem) {
  Harness h;
  h.backend().addBots(500);  // before the io thread runs
  ASSERT_TRUE(h.start().ok());
  const int fd = testing::connectRaw(h.path());
  ASSERT_GE(fd, 0);
  proto::Hello hello;
  hello.role = proto::Role::kControl;
  hello.name = "test";
  hello.capabilities = {proto::cap::kParts};
  testing::sendRaw(fd, proto::encodeFrame(hello) + proto::encodeFrame(proto::StatusRequest{9, {}}) +
                           proto::encodeFrame(proto::RunRequest{10, "all", proto::Action::kTrim}));
  // readFrames' framer enforces the 64 KiB limit on every part. The run's answer comes last.
  auto r = testing::readFrames(fd, 10s, 1000000, [](const proto::Message& m) {
    const auto* rr = std::get_if<proto::RunResult>(&m);
    return rr != nullptr && !rr->more;
  });
  ::close(fd);
  ASSERT_FALSE(r.frames.empty());
  const auto& w = std::get<proto::Welcome>(r.frames[0]);
  EXPECT_NE(std::find(w.capabilities.begin(), w.capabilities.end(), "parts"), w.capabilities.end());
  std::size_t status_parts = 0, run_parts = 0;
  proto::StatusResult status;
  proto::RunResult run;
  bool status_done = false;
  for (std::size_t i = 1; i < r.frames.size(); ++i) {
    if (const auto* s = std::get_if<proto::StatusResult>(&r.frames[i])) {
      ASSERT_FALSE(status_done) << "a status part after the last one";
      EXPECT_EQ(s->id, 9u);
      ++status_parts;
      status.bots.insert(status.bots.end(), s->bots.begin(), s->bots.end());
      status_done = !s->more;
    } else if (const auto* rr = std::get_if<proto::RunResult>(&r.frames[i])) {
      // Parts of one answer come back to back: the status is complete before.
      EXPECT_TRUE(status_done || run_parts > 0);
      EXPECT_EQ(rr->id, 10u);
      ++run_parts;
      run.results.insert(run.results.end(), rr->results.begin(), rr->results.end());
    } else {
      ADD_FAILURE() << "unexpected " << proto::typeName(r.frames[i]);
    }
  }
  EXPECT_TRUE(status_done);
  EXPECT_GT(status_parts, 1u);
  ASSERT_EQ(status.bots.size(), 503u);
  EXPECT_EQ(status.bots[0].name, "amayo");
  EXPECT_EQ(status.bots[3].name, "shard-0001");
  EXPECT_EQ(status.bots[502].name, "shard-0500");
  EXPECT_EQ(run.results.size(), 503u);
  EXPECT_EQ(run_parts, 1u) << "503 short outcomes fit in one frame";
}

TEST(ControlServer, RefusesATooLargeAnswerToA10ClientAndKeepsItsConnection) {
  Harness h;
  h.backend().addBots(500);  // before the io thread runs
  ASSERT_TRUE(h.start().ok());
  const int fd = testing::connectRaw(h.path());
  ASSERT_GE(fd, 0);
  testing::sendRaw(fd, testing::helloFrame() + proto::encodeFrame(proto::StatusRequest{1, {}}) +
                           proto::encodeFrame(proto::StatusRequest{2, {"shard-0499", "amayo"}}));
  auto r = testing::readFrames(fd, 5s, 3);
  ::close(fd);
  ASSERT_EQ(r.frames.size(), 3u);
  const auto* e = std::get_if<proto::ErrorMsg>(&r.frames[1]);
  ASSERT_NE(e, nullptr) << proto::typeName(r.frames[1]);
  EXPECT_EQ(e->id, std::optional<std::uint64_t>(1));
  EXPECT_EQ(e->code, proto::errc::kTooLarge);
  EXPECT_NE(e->message.find("fewer bots"), std::string::npos) << e->message;
  // Filtering on the server still works for the old client, on the same connection.
  const auto* s = std::get_if<proto::StatusResult>(&r.frames[2]);
  ASSERT_NE(s, nullptr) << proto::typeName(r.frames[2]);
  ASSERT_EQ(s->bots.size(), 2u);
  EXPECT_EQ(s->bots[0].name, "shard-0499");
  EXPECT_FALSE(r.eof);
}

TEST(ControlServer, MemvisorctlsClientReassemblesTheParts) {
  Harness h;
  h.backend().addBots(1000);  // before the io thread runs
  ASSERT_TRUE(h.start().ok());
  auto c = connectClient(h.path());
  auto r = c.request(proto::StatusRequest{}, 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& s = std::get<proto::StatusResult>(*r);
  EXPECT_FALSE(s.more);
  ASSERT_EQ(s.bots.size(), 1003u);
  EXPECT_EQ(s.bots.back().name, "shard-1000");
  // The connection is still in step: the next request gets its own answer.
  auto one = c.request(proto::StatusRequest{0, {"idle"}}, 5s);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(std::get<proto::StatusResult>(*one).bots.at(0).name, "idle");
}

TEST(ControlServer, RejectsABotHelloOnTheControlSocket) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  const int fd = testing::connectRaw(h.path());
  testing::sendRaw(fd, testing::helloFrame(proto::Role::kBot));
  auto r = testing::readFrames(fd, 5s);
  ASSERT_FALSE(r.frames.empty());
  const auto* e = std::get_if<proto::ErrorMsg>(&r.frames[0]);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kUnexpected);
  EXPECT_TRUE(r.eof);
  ::close(fd);
}

TEST(ControlServer, ClosesOnlyTheConnectionThatSentAMalformedFrame) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  auto good = connectClient(h.path());
  const int bad = testing::connectRaw(h.path());
  testing::sendRaw(bad, testing::helloFrame() + "{not json\n");
  auto r = testing::readFrames(bad, 5s);
  ASSERT_EQ(r.frames.size(), 2u);
  const auto* e = std::get_if<proto::ErrorMsg>(&r.frames[1]);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kBadJson);
  EXPECT_TRUE(r.eof);
  ::close(bad);
  auto s = good.request(proto::StatusRequest{}, 5s);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(std::holds_alternative<proto::StatusResult>(*s));
}

TEST(ControlServer, ClosesAConnectionWhoseFrameIsTooLarge) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  const int fd = testing::connectRaw(h.path());
  testing::sendRaw(fd, testing::helloFrame() + std::string(proto::kMaxFrameBytes + 10, 'x'));
  auto r = testing::readFrames(fd, 5s);
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(std::get<proto::ErrorMsg>(r.frames[1]).code, proto::errc::kFrameTooLarge);
  EXPECT_TRUE(r.eof);
  ::close(fd);
}

TEST(ControlServer, RejectsBotMessagesAfterTheHandshake) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  const int fd = testing::connectRaw(h.path());
  testing::sendRaw(fd, testing::helloFrame() + proto::encodeFrame(proto::Pong{7, {}}));
  auto r = testing::readFrames(fd, 5s);
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<proto::ErrorMsg>(r.frames[1]));
  EXPECT_TRUE(r.eof);
  ::close(fd);
}

TEST(ControlServer, ClosesAConnectionThatSendsNoHelloInTime) {
  Options opt;
  opt.handshake_timeout = 200ms;
  Harness h(opt);
  ASSERT_TRUE(h.start().ok());
  const int fd = testing::connectRaw(h.path());
  auto r = testing::readFrames(fd, 5s);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(std::get<proto::ErrorMsg>(r.frames[0]).code, proto::errc::kTimeout);
  EXPECT_TRUE(r.eof);
  ::close(fd);
}

TEST(ControlServer, ClosesAnIdleConnection) {
  Options opt;
  opt.idle_timeout = 200ms;
  Harness h(opt);
  ASSERT_TRUE(h.start().ok());
  const int fd = testing::connectRaw(h.path());
  testing::sendRaw(fd, testing::helloFrame());
  auto r = testing::readFrames(fd, 5s);
  ASSERT_EQ(r.frames.size(), 2u);  // the welcome, the reason, then EOF
  EXPECT_EQ(std::get<proto::ErrorMsg>(r.frames[1]).code, proto::errc::kTimeout);
  EXPECT_FALSE(std::get<proto::ErrorMsg>(r.frames[1]).id.has_value());
  EXPECT_TRUE(r.eof);
  ::close(fd);
}

// PROTOCOL.md 4 and 6: `error` is a type control may send; a reply whose id matches no
// request (memvisord sends control none) is ignored and the connection stays.
TEST(ControlServer, IgnoresAnErrorReplyWithAnUnknownId) {
  Harness h;
  ASSERT_TRUE(h.start().ok());
  const int fd = testing::connectRaw(h.path());
  testing::sendRaw(fd, testing::helloFrame() +
                           proto::encodeFrame(proto::ErrorMsg{77, proto::errc::kInternal, "?"}) +
                           proto::encodeFrame(proto::StatusRequest{3, {}}));
  auto r = testing::readFrames(fd, 5s, 2);
  ASSERT_EQ(r.frames.size(), 2u);
  const auto* res = std::get_if<proto::StatusResult>(&r.frames[1]);
  ASSERT_NE(res, nullptr) << proto::typeName(r.frames[1]);
  EXPECT_EQ(res->id, 3u);
  EXPECT_FALSE(r.eof);
  ::close(fd);
}

TEST(ControlServer, KeepsAConnectionWhoseRequestIsStillRunning) {
  Options opt;
  opt.idle_timeout = 100ms;
  Harness h(opt);
  h.backend().reply_delay_ms = 400;  // a slow action
  ASSERT_TRUE(h.start().ok());
  auto c = connectClient(h.path());
  auto r = c.request(proto::RunRequest{0, "amayo", proto::Action::kCompact}, 5s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(std::holds_alternative<proto::RunResult>(*r));
}

TEST(ControlServer, DropsAReplyForAClientThatLeft) {
  Harness h;
  h.backend().reply_delay_ms = 150;
  ASSERT_TRUE(h.start().ok());
  {
    const int fd = testing::connectRaw(h.path());
    testing::sendRaw(fd, testing::helloFrame() + proto::encodeFrame(proto::RunRequest{
                                                     1, "amayo", proto::Action::kTrim}));
    testing::readFrames(fd, 2s, 1);  // the welcome
    ::close(fd);
  }
  std::this_thread::sleep_for(300ms);  // the reply fires into a closed session
  auto c = connectClient(h.path());
  EXPECT_TRUE(c.request(proto::StatusRequest{}, 5s).ok());
  EXPECT_EQ(h.connections(), 1u);
}

}  // namespace
}  // namespace memvisor::control
