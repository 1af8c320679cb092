// memvisord's Prometheus endpoint (daemon.metrics_listen), scraped over real TCP while it
// supervises the reference bot; the exposition is linted by promtool when it is installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "daemon_harness.hpp"
#include "http_client.hpp"

namespace memvisor::testing {
namespace {

const std::string kBot = MEMVISOR_BOT_BIN;

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
    // A sample or two after the connection: the bot is sampled right after exec (under
    // 1 MiB, before the loader has mapped its libraries), and it may connect before the next
    // sample, so wait for a figure of the loaded bot.
    for (int i = 0; i < 100; ++i) {
      body_ = httpGet(port_, "/metrics");
      const auto rss = body_.find("figure=\"rss\"} ");
      if (body_.find("memvisor_bot_connected{bot=\"scraped\"} 1") != std::string::npos &&
          rss != std::string::npos && std::atof(body_.c_str() + rss + 14) > 1024.0 * 1024) {
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
  // Counters exist from the start, at 0 until something happens.
  EXPECT_NE(body_.find("memvisor_bot_oom_kills_total{bot=\"scraped\"} 0"), std::string::npos) << body_;
  EXPECT_NE(body_.find("memvisor_freed_bytes_total{action=\"compact\",bot=\"scraped\"} 0"),
            std::string::npos) << body_;
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
