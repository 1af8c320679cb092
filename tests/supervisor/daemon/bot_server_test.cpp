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

#include "run_until.hpp"  // tests/support

namespace memvisor::daemon {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

using memvisor::testing::runUntil;

// A raw, non-blocking client: the test thread also runs the io_context.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void sendRaw(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  void send(const proto::Message& m) { sendRaw(proto::encodeFrame(m)); }
  // Reads what is available; true once the server closed the connection.
  bool poll() {
    char buf[4096];
    while (true) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) eof_ = true;
      break;
    }
    std::size_t nl;
    while ((nl = in_.find('\n')) != std::string::npos) {
      auto m = proto::decode(in_.substr(0, nl));
      if (m) frames.push_back(std::move(m.value()));
      in_.erase(0, nl + 1);
    }
    return eof_;
  }
  bool eof() const { return eof_; }
  template <typename T>
  const T* last() const {
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
      if (const auto* v = std::get_if<T>(&*it)) return v;
    }
    return nullptr;
  }
  std::vector<proto::Message> frames;

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string in_;
};

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
  EXPECT_TRUE(prepareSocketPath(path_).ok());
  EXPECT_FALSE(fs::exists(path_));
  std::ofstream(path_) << "precious";
  auto r = prepareSocketPath(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "exists");
  EXPECT_TRUE(fs::exists(path_));
}

TEST_F(BotServerTest, RefusesToTakeOverASocketSomeoneListensOn) {
  start();
  auto r = prepareSocketPath(path_);
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
