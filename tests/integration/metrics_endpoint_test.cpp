// memvisord's Prometheus endpoint (daemon.metrics_listen), scraped over real TCP while it
// supervises the reference bot; the exposition is linted by promtool when it is installed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "daemon_harness.hpp"

namespace memvisor::testing {
namespace {

const std::string kBot = MEMVISOR_BOT_BIN;

// A port nobody listens on right now (the kernel picks it; never a fixed port).
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string httpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::write(fd, req.data(), req.size()) < 0) {
    ::close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  const auto body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

class MetricsEndpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = freePort();
    std::ofstream(d_.dir / "memvisord.yaml")
        << "daemon:\n  bot_socket: " << d_.socket("bot.sock")
        << "\n  control_socket: " << d_.socket("ctl.sock")
        << "\n  metrics_listen: 127.0.0.1:" << port_
        << "\nbots:\n  - name: scraped\n    limit: 256MiB\n"
        << "    poll: {min: 100ms, max: 500ms}\n    spawn:\n      command: [" << kBot
        << ", --rate, \"50\", --progress-interval, \"0\"]\n";
    d_.start();
    ASSERT_TRUE(d_.waitForKind("session", 20s)) << d_.journalText();
    // A sample or two after the connection.
    for (int i = 0; i < 100; ++i) {
      body_ = httpGet(port_, "/metrics");
      if (body_.find("memvisor_bot_connected{bot=\"scraped\"} 1") != std::string::npos &&
          body_.find("figure=\"rss\"} 0\n") == std::string::npos) {
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
  }
  Daemon d_{"metrics"};
  int port_ = 0;
  std::string body_;
};

TEST_F(MetricsEndpoint, ServesTheBotsMemoryLimitAndStateWhileSupervising) {
  EXPECT_NE(body_.find("memvisor_bot_up{bot=\"scraped\"} 1"), std::string::npos) << body_;
  EXPECT_NE(body_.find("memvisor_bot_connected{bot=\"scraped\"} 1"), std::string::npos) << body_;
  EXPECT_NE(body_.find("memvisor_bot_limit_bytes{bot=\"scraped\"} 268435456"), std::string::npos)
      << body_;
  const auto rss = body_.find("memvisor_bot_memory_bytes{bot=\"scraped\",figure=\"rss\"} ");
  ASSERT_NE(rss, std::string::npos) << body_;
  EXPECT_GT(std::atof(body_.c_str() + body_.find("} ", rss) + 2), 1024.0 * 1024) << body_;
  EXPECT_EQ(d_.stop(), 0);
}

TEST_F(MetricsEndpoint, PassesPromtoolLint) {
  if (::access("/usr/bin/promtool", X_OK) != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  ASSERT_FALSE(body_.empty());
  const fs::path file = d_.dir / "scrape.txt";
  std::ofstream(file) << body_;
  const int rc = std::system(("/usr/bin/promtool check metrics < " + file.string() + " > " +
                              (d_.dir / "lint.txt").string() + " 2>&1")
                                 .c_str());
  EXPECT_EQ(rc, 0) << slurp(d_.dir / "lint.txt");
  EXPECT_EQ(d_.stop(), 0);
}

}  // namespace
}  // namespace memvisor::testing
