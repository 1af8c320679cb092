// BotServer and BotSession over real Unix sockets: handshake, admission, requests with
// deadlines, malformed and oversized frames closing one connection only, stale sockets.
#include "memvisor/daemon/bot_server.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "memvisor/daemon/peer_auth.hpp"
#include "memvisor/proto/codec.hpp"

#include "raw_bot_client.hpp"  // tests/support
#include "run_until.hpp"

namespace memvisor::daemon {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

using memvisor::testing::RawClient;
using memvisor::testing::runUntil;

proto::Hello hello(const std::string& name) {
  proto::Hello h;
  h.role = proto::Role::kBot;
  h.pid = ::getpid();
  h.name = name;
  h.capabilities = {"trim", "sweep", "compact"};
  return h;
}

class BotServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "memvisor-botsock-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    path_ = dir_ + "/bot.sock";
    hooks_.on_hello = [this](const std::shared_ptr<BotSession>& s,
                             const proto::Hello& h) -> Result<SessionHooks::Admission> {
      peers_.push_back(s->peer());
      if (h.name == "intruder") return Error{proto::errc::kNotPermitted, "not yours"};
      session_ = s;
      return SessionHooks::Admission{h.name, 1234};
    };
    hooks_.on_stats = [this](const std::shared_ptr<BotSession>&, const proto::Stats& st) {
      stats_.push_back(st);
    };
    hooks_.on_closed = [this](const std::shared_ptr<BotSession>&, const std::string& reason) {
      closed_.push_back(reason);
    };
    hooks_.on_notice = [this](const PeerCred&, const std::string& code, const std::string&) {
      notices_.push_back(code);
    };
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }
  BotServer& start(SessionOptions so = {}) {
    BotServerOptions o;
    o.path = path_;
    o.session = so;
    server_ = std::make_unique<BotServer>(io_, o, hooks_);
    auto ok = server_->start();
    EXPECT_TRUE(ok.ok()) << (ok.ok() ? "" : ok.error().message);
    return *server_;
  }
  // Connects and completes the handshake.
  std::unique_ptr<RawClient> admitted(const std::string& name) {
    auto c = std::make_unique<RawClient>(path_);
    EXPECT_TRUE(c->connected());
    c->send(hello(name));
    EXPECT_TRUE(runUntil(io_, [&] {
      c->poll();
      return c->last<proto::Welcome>() != nullptr;
    }));
    return c;
  }

  boost::asio::io_context io_;
  std::string dir_, path_;
  SessionHooks hooks_;
  std::unique_ptr<BotServer> server_;
  std::shared_ptr<BotSession> session_;
  std::vector<PeerCred> peers_;
  std::vector<proto::Stats> stats_;
  std::vector<std::string> closed_, notices_;
};

TEST_F(BotServerTest, WelcomesABotWithItsNameAndStatsIntervalWhenAdmitted) {
  start();
  auto c = admitted("amayo");
  const auto* w = c->last<proto::Welcome>();
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->name, "amayo");
  EXPECT_EQ(w->stats_interval_ms, 1234);
  EXPECT_EQ(w->pid, ::getpid());
  ASSERT_EQ(peers_.size(), 1u);
  EXPECT_EQ(peers_[0].pid, ::getpid());  // SO_PEERCRED
  EXPECT_EQ(peers_[0].uid, ::getuid());
}

TEST_F(BotServerTest, SetsTheSocketModeExplicitly) {
  start();
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0666u);
}

TEST_F(BotServerTest, SendsTheRefusalThenClosesWhenAdmissionFails) {
  start();
  RawClient c(path_);
  c.send(hello("intruder"));
  ASSERT_TRUE(runUntil(io_, [&] { return c.poll(); }));
  const auto* e = c.last<proto::ErrorMsg>();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kNotPermitted);
  EXPECT_TRUE(closed_.empty());  // never admitted
}

TEST_F(BotServerTest, ClosesOnlyThatConnectionWhenAFrameIsMalformed) {
  start();
  auto good = admitted("good");
  auto good_session = session_;
  RawClient bad(path_);
  bad.sendRaw("{this is not json\n");
  ASSERT_TRUE(runUntil(io_, [&] { return bad.poll(); }));
  const auto* e = bad.last<proto::ErrorMsg>();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kBadJson);
  // The other bot is still served.
  bool answered = false;
  good_session->request(proto::Ping{}, milliseconds(2000), [&](Result<proto::Message> r) {
    answered = r.ok() && std::holds_alternative<proto::Pong>(*r);
  });
  ASSERT_TRUE(runUntil(io_, [&] {
    good->poll();
    return good->last<proto::Ping>() != nullptr;
  }));
  proto::Pong pong;
  pong.id = good->last<proto::Ping>()->id;
  good->send(pong);
  ASSERT_TRUE(runUntil(io_, [&] { return answered; }));
  EXPECT_EQ(server_->sessionCount(), 1u);
}

TEST_F(BotServerTest, ClosesWithFrameTooLargeWhenALineExceedsTheLimit) {
  start();
  RawClient c(path_);
  c.sendRaw(std::string(proto::kMaxFrameBytes + 100, 'x'));
  ASSERT_TRUE(runUntil(io_, [&] { return c.poll(); }));
  const auto* e = c.last<proto::ErrorMsg>();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kFrameTooLarge);
}

TEST_F(BotServerTest, RefusesAFirstFrameThatIsNotHello) {
  start();
  RawClient c(path_);
  c.send(proto::Stats{});
  ASSERT_TRUE(runUntil(io_, [&] { return c.poll(); }));
  const auto* e = c.last<proto::ErrorMsg>();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kUnexpected);
}

// PROTOCOL.md 4: an error answering a frame that had an id carries that id, on the bot
// socket as on the control socket.
TEST_F(BotServerTest, EchoesTheFramesIdInTheErrorForAReplyBeforeHello) {
  start();
  RawClient c(path_);
  c.send(proto::Pong{41, {}});
  ASSERT_TRUE(runUntil(io_, [&] { return c.poll(); }));
  const auto* e = c.last<proto::ErrorMsg>();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kUnexpected);
  EXPECT_EQ(e->id, std::optional<std::uint64_t>(41));
}

TEST_F(BotServerTest, EchoesTheFramesIdInTheErrorForAControlRequestFromABot) {
  start();
  auto c = admitted("amayo");
  c->send(proto::StatusRequest{42, {}});
  ASSERT_TRUE(runUntil(io_, [&] { return c->poll(); }));
  const auto* e = c->last<proto::ErrorMsg>();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kUnexpected);
  EXPECT_EQ(e->id, std::optional<std::uint64_t>(42));
}

TEST_F(BotServerTest, SendsTheReasonBeforeClosingWhenTheDaemonClosesWithAnError) {
  start();
  auto c = admitted("amayo");
  session_->closeWithError(proto::errc::kReplaced, "replaced by a new connection");
  ASSERT_TRUE(runUntil(io_, [&] { return c->poll(); }));
  const auto* e = c->last<proto::ErrorMsg>();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kReplaced);
  EXPECT_FALSE(e->id.has_value());
  ASSERT_TRUE(runUntil(io_, [&] { return closed_.size() == 1; }));
  EXPECT_NE(closed_[0].find("replaced"), std::string::npos) << closed_[0];
}

TEST_F(BotServerTest, ClosesTheConnectionWhenNoHelloComesInTime) {
  SessionOptions so;
  so.handshake_timeout = milliseconds(50);
  start(so);
  RawClient c(path_);
  ASSERT_TRUE(runUntil(io_, [&] { return c.poll(); }));
  const auto* e = c.last<proto::ErrorMsg>();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, proto::errc::kTimeout);
}

TEST_F(BotServerTest, RoutesTheActionResultToItsRequest) {
  start();
  auto c = admitted("amayo");
  std::optional<Result<proto::Message>> got;
  proto::ActionRequest req;
  req.action = proto::Action::kSweep;
  req.urgency = proto::Urgency::kHigh;
  req.deadline_ms = 3000;
  session_->request(req, milliseconds(3000), [&](Result<proto::Message> r) { got = r; });
  ASSERT_TRUE(runUntil(io_, [&] {
    c->poll();
    return c->last<proto::ActionRequest>() != nullptr;
  }));
  const auto* sent = c->last<proto::ActionRequest>();
  EXPECT_EQ(sent->action, proto::Action::kSweep);
  EXPECT_EQ(sent->urgency, proto::Urgency::kHigh);
  proto::ActionResult res;
  res.id = sent->id;
  res.action = proto::Action::kSweep;
  res.freed_bytes = 42 << 20;
  c->send(res);
  ASSERT_TRUE(runUntil(io_, [&] { return got.has_value(); }));
  ASSERT_TRUE(got->ok());
  EXPECT_EQ(std::get<proto::ActionResult>(got->value()).freed_bytes, 42 << 20);
}

TEST_F(BotServerTest, FailsTheRequestWithTimeoutWhenTheBotDoesNotAnswer) {
  SessionOptions so;
  so.reply_grace = milliseconds(20);
  start(so);
  auto c = admitted("hangs");
  std::optional<Result<proto::Message>> got;
  session_->request(proto::ActionRequest{}, milliseconds(30),
                    [&](Result<proto::Message> r) { got = r; });
  ASSERT_TRUE(runUntil(io_, [&] { return got.has_value(); }));
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->error().code, proto::errc::kTimeout);
  // A late answer afterwards is noticed, not an error that closes the session.
  c->poll();
  proto::ActionResult late;
  late.id = c->last<proto::ActionRequest>()->id;
  c->send(late);
  ASSERT_TRUE(runUntil(io_, [&] { return !notices_.empty(); }));
  EXPECT_EQ(notices_.back(), "late_reply");
  EXPECT_TRUE(session_->open());
}

TEST_F(BotServerTest, FailsPendingRequestsWithNotConnectedWhenTheBotLeaves) {
  start();
  auto c = admitted("leaves");
  std::optional<Result<proto::Message>> got;
  session_->request(proto::ActionRequest{}, milliseconds(5000),
                    [&](Result<proto::Message> r) { got = r; });
  c.reset();
  ASSERT_TRUE(runUntil(io_, [&] { return got.has_value(); }));
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->error().code, proto::errc::kNotConnected);
  ASSERT_EQ(closed_.size(), 1u);
  EXPECT_EQ(server_->sessionCount(), 0u);
}

TEST_F(BotServerTest, PassesStatsToTheHook) {
  start();
  auto c = admitted("amayo");
  proto::Stats st;
  st.mem.rss_bytes = 100 << 20;
  st.caches["messages"] = 5000;
  c->send(st);
  ASSERT_TRUE(runUntil(io_, [&] { return !stats_.empty(); }));
  EXPECT_EQ(stats_[0].mem.rss_bytes, 100 << 20);
  EXPECT_EQ(stats_[0].caches.at("messages"), 5000);
}

TEST_F(BotServerTest, ClosesEverySessionAndUnlinksTheSocketWhenStopped) {
  start();
  auto c = admitted("amayo");
  server_->stop();
  EXPECT_FALSE(fs::exists(path_));
  ASSERT_TRUE(runUntil(io_, [&] { return c->poll(); }));
  EXPECT_EQ(closed_.size(), 1u);
}

TEST_F(BotServerTest, RemovesAStaleSocketButNeverAnotherFile) {
  {
    // A socket left behind by a dead memvisord: bound, nobody listening.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  EXPECT_TRUE(listener::prepareSocketPath(path_).ok());
  EXPECT_FALSE(fs::exists(path_));
  std::ofstream(path_) << "precious";
  auto r = listener::prepareSocketPath(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "exists");
  EXPECT_TRUE(fs::exists(path_));
}

TEST_F(BotServerTest, RefusesToTakeOverASocketSomeoneListensOn) {
  start();
  auto r = listener::prepareSocketPath(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "in_use");
}

TEST(PeerAuth, AcceptsTheProcessAndItsDescendantsOnly) {
  const sampling::SysPaths paths;
  EXPECT_TRUE(isSameOrDescendant(paths, ::getpid(), ::getpid()));
  EXPECT_TRUE(isSameOrDescendant(paths, ::getpid(), ::getppid()));
  EXPECT_FALSE(isSameOrDescendant(paths, ::getppid(), ::getpid()));
  EXPECT_FALSE(isSameOrDescendant(paths, 0, ::getpid()));
}

}  // namespace
}  // namespace memvisor::daemon
