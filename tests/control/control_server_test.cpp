// ControlServer over real Unix sockets with FakeBackend: socket creation and permissions,
// SO_PEERCRED refusals, handshake, every control request, journal subscriptions, timeouts,
// malformed frames and slow subscribers.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "client.hpp"
#include "fake_backend.hpp"
#include "memvisor/control/server.hpp"
#include "test_util.hpp"

namespace memvisor::control {
namespace {

using namespace std::chrono_literals;
using testing::FakeBackend;
using testing::TempDir;

class Harness {
 public:
  explicit Harness(Options opt = {}) : journal_(journal::Options{}), backend_(io_, journal_) {
    opt.path = dir_.file("ctl.sock");
    opt.on_notice = [this](const Notice& n) {
      std::lock_guard lock(mu_);
      notices_.push_back(n);
    };
    options_ = opt;
  }
  ~Harness() { stop(); }

  template <typename F>
  auto onIo(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return fut.get();
  }
  Result<void> start() {
    server_ = std::make_unique<ControlServer>(io_, options_, backend_, journal_);
    auto r = server_->start();
    thread_ = std::thread([this] { io_.run(); });
    return r;
  }
  void stop() {
    if (!thread_.joinable()) return;
    onIo([this] { server_->stop(); });
    work_.reset();
    thread_.join();
  }
  void record(const std::string& bot, const std::string& msg) {
    onIo([&] {
      journal_.record({testing::wallMs(), bot, "action", proto::Level::kInfo, msg, {}});
    });
  }
  std::vector<Notice> notices() {
    std::lock_guard lock(mu_);
    return notices_;
  }
  bool waitNotice(Notice::Kind kind, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& n : notices()) {
        if (n.kind == kind) return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  std::size_t connections() {
    return onIo([this] { return server_->connections(); });
  }
  const std::string& path() const { return options_.path; }
  TempDir& dir() { return dir_; }
  journal::Journal& journal() { return journal_; }
  FakeBackend& backend() { return backend_; }

 private:
  TempDir dir_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  journal::Journal journal_;
  FakeBackend backend_;
  Options options_;
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Notice> notices_;
};

ctl::Client connectClient(const std::string& path) {
  auto c = ctl::Client::connect(path, 5s);
  if (!c) ADD_FAILURE() << c.error().message;
  return std::move(c).value();
}

mode_t modeOf(const std::string& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st.st_mode;
}

// Runs `fn` in a child that dropped to uid/gid 65534 (nobody); returns its exit status.
template <typename Fn>
int asNobody(Fn fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(99);
    }
    ::_exit(fn());
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

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
