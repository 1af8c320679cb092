// libmemvisor-client against a real Unix socket served by the test (FakeMemvisord).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "fake_memvisord.hpp"
#include "sanitizer.hpp"
#include "memvisor/client/background_client.hpp"
#include "memvisor/client/backoff.hpp"
#include "memvisor/client/client.hpp"
#include "memvisor/client/memory.hpp"

namespace memvisor {
namespace {

using client::ActionDone;
using client::ActionOutcome;
using client::BackgroundClient;
using client::ClientOptions;
using std::chrono::milliseconds;
using testing::FakeMemvisord;
using testing::TempDir;

constexpr milliseconds kWait{3000};

ClientOptions fastOptions(const std::string& path) {
  ClientOptions o;
  o.socket_path = path;
  o.name = "testbot";
  o.backoff = {milliseconds(10), milliseconds(100)};
  o.handshake_timeout = milliseconds(500);
  return o;
}

proto::ActionRequest request(std::uint64_t id, proto::Action a, std::int64_t deadline_ms = 5000) {
  proto::ActionRequest r;
  r.id = id;
  r.action = a;
  r.urgency = proto::Urgency::kHigh;
  r.deadline_ms = deadline_ms;
  return r;
}

struct Fixture {
  TempDir dir;
  FakeMemvisord server{dir.path() + "/bot.sock"};
};

TEST(Backoff, DoublesFromMinUpToMaxWithJitterInUpperHalf) {
  const client::BackoffPolicy p{milliseconds(100), milliseconds(5000)};
  EXPECT_EQ(client::backoffDelay(p, 0, 0.0), milliseconds(50));
  EXPECT_EQ(client::backoffDelay(p, 0, 0.999999), milliseconds(99));
  EXPECT_EQ(client::backoffDelay(p, 3, 0.0), milliseconds(400));
  EXPECT_EQ(client::backoffDelay(p, 6, 1.0), milliseconds(5000));  // 6400 capped
  EXPECT_EQ(client::backoffDelay(p, 1000, 0.0), milliseconds(2500));
}

TEST(Statm, ParsesPagesAndRejectsGarbage) {
  auto s = client::parseStatm("1000 250 30 5 0 600 0\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->resident_pages, 250);
  EXPECT_FALSE(client::parseStatm("").ok());
  EXPECT_FALSE(client::parseStatm("12 x 3").ok());
  auto missing = client::readStatm("/nonexistent-proc", "self");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent-proc/self/statm"), std::string::npos);
}

TEST(Client, SendsHelloWithRolePidNameAndCapabilitiesThenStats) {
  Fixture f;
  BackgroundClient bc(fastOptions(f.server.path()));
  bc.client().onAction(proto::Action::kSweep, client::syncHandler([](const auto&) { return ActionOutcome{}; }));
  bc.start();
  auto hello = f.server.handshake(kWait, 100);
  ASSERT_TRUE(hello) << f.server.lastError();
  EXPECT_EQ(hello->role, proto::Role::kBot);
  EXPECT_EQ(hello->pid, ::getpid());
  EXPECT_EQ(hello->name, "testbot");
  auto has = [&](const char* c) {
    return std::find(hello->capabilities.begin(), hello->capabilities.end(), c) != hello->capabilities.end();
  };
  EXPECT_TRUE(has("trim"));
  EXPECT_TRUE(has("sweep"));
  EXPECT_TRUE(has("stats"));
  EXPECT_FALSE(has("compact"));
  // Stats at the interval the welcome asked for, with default figures from statm/mallinfo2.
  for (int i = 0; i < 3; ++i) {
    auto s = f.server.recvType<proto::Stats>(kWait);
    ASSERT_TRUE(s) << f.server.lastError();
    ASSERT_TRUE(s->mem.rss_bytes);
    EXPECT_GT(*s->mem.rss_bytes, 0);
    EXPECT_TRUE(s->mem.heap_used_bytes);
    EXPECT_TRUE(s->uptime_ms);
  }
}

TEST(Client, RunsEveryCommandAndRepliesWithMeasuredResults) {
  Fixture f;
  std::atomic<int> shutdowns{0};
  BackgroundClient bc(fastOptions(f.server.path()));
  auto& c = bc.client();
  c.onAction(proto::Action::kSweep, client::syncHandler([](const proto::ActionRequest& r) {
               ActionOutcome out;
               out.details.push_back({"messages", 1234, 10, 2});
               EXPECT_EQ(r.urgency, proto::Urgency::kHigh);
               return out;
             }));
  c.onAction(proto::Action::kCompact, client::syncHandler([](const auto&) {
               ActionOutcome out;
               out.ok = false;
               out.error = "nothing to compact";
               return out;
             }));
  c.onShutdown([&](const proto::Shutdown& s, client::ShutdownAccept accept) {
    EXPECT_EQ(s.reason, "restart");
    ++shutdowns;
    accept(true);
  });
  bc.start();
  ASSERT_TRUE(f.server.handshake(kWait, 60000));

  ASSERT_TRUE(f.server.send(request(1, proto::Action::kTrim)));
  auto trim = f.server.recvType<proto::ActionResult>(kWait);
  ASSERT_TRUE(trim);
  EXPECT_EQ(trim->id, 1u);
  EXPECT_EQ(trim->action, proto::Action::kTrim);
  EXPECT_TRUE(trim->ok);
  EXPECT_FALSE(trim->late);
  ASSERT_TRUE(trim->before.rss_bytes && trim->after.rss_bytes);
  EXPECT_EQ(trim->freed_bytes, *trim->before.rss_bytes - *trim->after.rss_bytes);
  ASSERT_EQ(trim->details.size(), 1u);
  EXPECT_EQ(trim->details[0].name, "malloc_trim");

  ASSERT_TRUE(f.server.send(request(2, proto::Action::kSweep)));
  auto sweep = f.server.recvType<proto::ActionResult>(kWait);
  ASSERT_TRUE(sweep);
  EXPECT_EQ(sweep->id, 2u);
  ASSERT_EQ(sweep->details.size(), 1u);
  EXPECT_EQ(sweep->details[0].name, "messages");
  EXPECT_EQ(sweep->details[0].freed_bytes, 1234);

  ASSERT_TRUE(f.server.send(request(3, proto::Action::kCompact)));
  auto compact = f.server.recvType<proto::ActionResult>(kWait);
  ASSERT_TRUE(compact);
  EXPECT_FALSE(compact->ok);
  EXPECT_EQ(compact->error, "nothing to compact");

  ASSERT_TRUE(f.server.send(proto::Ping{4}));
  auto pong = f.server.recvType<proto::Pong>(kWait);
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->id, 4u);
  EXPECT_TRUE(pong->uptime_ms);

  proto::Shutdown sd;
  sd.id = 5;
  sd.reason = "restart";
  ASSERT_TRUE(f.server.send(sd));
  auto ack = f.server.recvType<proto::Ack>(kWait);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->id, 5u);
  EXPECT_EQ(shutdowns.load(), 1);
}

TEST(Client, RepliesWithErrorWhenNoHandlerOrBusy) {
  Fixture f;
  BackgroundClient bc(fastOptions(f.server.path()));
  auto held = std::make_shared<ActionDone>();
  // An asynchronous sweep that completes only when the test says so.
  bc.client().onAction(proto::Action::kSweep, [held](const proto::ActionRequest&, ActionDone done) {
    *held = std::move(done);
  });
  bc.start();
  ASSERT_TRUE(f.server.handshake(kWait, 60000));
  ASSERT_TRUE(f.server.send(request(1, proto::Action::kCompact)));
  auto e = f.server.recvType<proto::ErrorMsg>(kWait);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, std::optional<std::uint64_t>(1));
  EXPECT_EQ(e->code, proto::errc::kActionFailed);

  ASSERT_TRUE(f.server.send(request(2, proto::Action::kSweep)));
  ASSERT_TRUE(f.server.send(request(3, proto::Action::kTrim)));
  auto busy = f.server.recvType<proto::ErrorMsg>(kWait);
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->id, std::optional<std::uint64_t>(3));
  EXPECT_EQ(busy->code, proto::errc::kBusy);
  bc.post([held] { (*held)(ActionOutcome{}); });
  auto r = f.server.recvType<proto::ActionResult>(kWait);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, 2u);
  EXPECT_TRUE(r->ok);
}

TEST(Client, MarksReplyLateWhenHandlerOverrunsDeadline) {
  Fixture f;
  BackgroundClient bc(fastOptions(f.server.path()));
  bc.client().onAction(proto::Action::kSweep, client::syncHandler([](const auto&) {
                         std::this_thread::sleep_for(milliseconds(150));
                         return ActionOutcome{};
                       }));
  bc.start();
  ASSERT_TRUE(f.server.handshake(kWait, 60000));
  ASSERT_TRUE(f.server.send(request(7, proto::Action::kSweep, 20)));
  auto late = f.server.recvType<proto::ActionResult>(kWait);
  ASSERT_TRUE(late);
  EXPECT_TRUE(late->late);
  EXPECT_TRUE(late->ok);
  EXPECT_GE(late->duration_ms, 150.0);
  ASSERT_TRUE(f.server.send(request(8, proto::Action::kSweep, 60000)));
  auto in_time = f.server.recvType<proto::ActionResult>(kWait);
  ASSERT_TRUE(in_time);
  EXPECT_FALSE(in_time->late);
}

TEST(Client, ReportsFreedBytesMeasuredFromRss) {
  MEMVISOR_SKIP_WITHOUT_GLIBC_MALLOC();
  Fixture f;
  // 64 MiB in one block: glibc serves it with mmap, so freeing it lowers RSS at once.
  constexpr std::size_t kBytes = 64u << 20;
  char* block = static_cast<char*>(std::malloc(kBytes));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, kBytes);
  BackgroundClient bc(fastOptions(f.server.path()));
  bc.client().onAction(proto::Action::kCompact, client::syncHandler([block](const auto&) {
                         std::free(block);
                         return ActionOutcome{};
                       }));
  bc.start();
  ASSERT_TRUE(f.server.handshake(kWait, 60000));
  ASSERT_TRUE(f.server.send(request(1, proto::Action::kCompact)));
  auto r = f.server.recvType<proto::ActionResult>(kWait);
  ASSERT_TRUE(r);
  EXPECT_GE(r->freed_bytes, static_cast<std::int64_t>(kBytes) - (4 << 20));
  EXPECT_LE(r->freed_bytes, static_cast<std::int64_t>(kBytes) + (16 << 20));
}

TEST(Client, ReconnectsWhenServerGoesAwayAndComesBack) {
  TempDir dir;
  const std::string path = dir.path() + "/bot.sock";
  auto server = std::make_unique<FakeMemvisord>(path);
  BackgroundClient bc(fastOptions(path));
  bc.start();
  ASSERT_TRUE(server->handshake(kWait, 60000));
  server.reset();  // memvisord exits: connection and socket file gone
  std::this_thread::sleep_for(milliseconds(300));  // several failed attempts meanwhile
  server = std::make_unique<FakeMemvisord>(path);
  auto hello = server->handshake(kWait, 60000);
  ASSERT_TRUE(hello) << server->lastError();
  EXPECT_EQ(hello->name, "testbot");
  // The new session works.
  ASSERT_TRUE(server->send(proto::Ping{9}));
  auto pong = server->recvType<proto::Pong>(kWait);
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->id, 9u);
}

TEST(Client, StaysUsableWhileMemvisordIsAbsent) {
  TempDir dir;
  boost::asio::io_context io;
  client::Client c(io, fastOptions(dir.path() + "/nobody.sock"));
  c.start();
  // The client's attempts must not hold up other work on the loop.
  int ticks = 0;
  const auto end = std::chrono::steady_clock::now() + milliseconds(300);
  while (std::chrono::steady_clock::now() < end) {
    io.run_for(milliseconds(10));
    ++ticks;
  }
  EXPECT_FALSE(c.connected());
  EXPECT_GE(c.counters().connect_failures, 2u);
  EXPECT_GE(ticks, 10);
  c.stop();
}

TEST(Client, DropsAndReconnectsOnMalformedFrame) {
  Fixture f;
  BackgroundClient bc(fastOptions(f.server.path()));
  bc.start();
  ASSERT_TRUE(f.server.handshake(kWait, 60000));
  ASSERT_TRUE(f.server.sendRaw("{this is not json\n"));
  // The client tells us why (best effort) and closes.
  auto err = f.server.recvType<proto::ErrorMsg>(kWait);
  ASSERT_TRUE(err) << f.server.lastError();
  EXPECT_EQ(err->code, proto::errc::kBadJson);
  EXPECT_TRUE(f.server.waitPeerClosed(kWait));
  auto hello = f.server.handshake(kWait, 60000);
  ASSERT_TRUE(hello) << f.server.lastError();
}

TEST(Client, DropsAndReconnectsOnFrameTooLarge) {
  Fixture f;
  BackgroundClient bc(fastOptions(f.server.path()));
  bc.start();
  ASSERT_TRUE(f.server.handshake(kWait, 60000));
  ASSERT_TRUE(f.server.sendRaw(std::string(proto::kMaxFrameBytes + 100, 'x')));
  auto err = f.server.recvType<proto::ErrorMsg>(kWait);
  ASSERT_TRUE(err) << f.server.lastError();
  EXPECT_EQ(err->code, proto::errc::kFrameTooLarge);
  EXPECT_TRUE(f.server.waitPeerClosed(kWait));
  EXPECT_TRUE(f.server.handshake(kWait, 60000));
}

TEST(Client, GivesUpOnServerThatNeverWelcomesAndRetries) {
  Fixture f;
  BackgroundClient bc(fastOptions(f.server.path()));  // handshake timeout 500 ms
  bc.start();
  ASSERT_TRUE(f.server.accept(kWait));
  ASSERT_TRUE(f.server.recvType<proto::Hello>(kWait));
  EXPECT_TRUE(f.server.waitPeerClosed(kWait));
  EXPECT_TRUE(f.server.handshake(kWait, 60000));
}

TEST(Client, ReconnectsAfterConnectionLevelError) {
  Fixture f;
  BackgroundClient bc(fastOptions(f.server.path()));
  bc.start();
  ASSERT_TRUE(f.server.accept(kWait));
  ASSERT_TRUE(f.server.recvType<proto::Hello>(kWait));
  proto::ErrorMsg refused;
  refused.code = proto::errc::kNotPermitted;
  refused.message = "uid 1000 may not connect";
  ASSERT_TRUE(f.server.send(refused));
  EXPECT_TRUE(f.server.waitPeerClosed(kWait));
  EXPECT_TRUE(f.server.handshake(kWait, 60000));
}

}  // namespace
}  // namespace memvisor
