// BotFigures on an injected clock (daemon/clock.hpp): the age of a bot's stats and their
// staleness follow the clock the test drives, not the wall; no sleeping for minutes.
#include "memvisor/daemon/bot_figures.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace memvisor::daemon {
namespace {

using namespace std::chrono_literals;

struct Line {
  std::string kind;
  std::string message;
};

// A BotFigures whose clock is `t` and whose journal lines land in `lines`.
struct Figures {
  explicit Figures(config::Duration stats_interval)
      : f(io, "amayo", nullptr,
          [this](const std::string& kind, proto::Level, const std::string& message,
                 std::map<std::string, std::string>) { lines.push_back({kind, message}); },
          [this] { return t; }) {
    BotFigures::Settings s;
    s.monitor.stale_after = 3;
    s.stats_interval = stats_interval;
    f.configure(s);
    f.start();
    f.onStats(proto::Stats{});
  }
  boost::asio::io_context io;
  SteadyTime t = SteadyTime{} + std::chrono::hours(1);
  std::vector<Line> lines;
  BotFigures f;
};

TEST(BotFigures, StatsAgeAndGoStaleOnTheInjectedClock) {
  Figures x(5s);
  auto& f = x.f;
  auto& t = x.t;
  t += 4s;
  auto st = f.status();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->age_ms, 4000);
  EXPECT_FALSE(st->stale);

  t += 11s;  // 15 s = 3 intervals of 5 s
  st = f.status();
  EXPECT_EQ(st->age_ms, 15000);
  EXPECT_TRUE(st->stale);
  EXPECT_FALSE(f.stale()) << "the timer has not looked yet";
}

TEST(BotFigures, TheTimerJournalsStalenessAtTheInjectedTime) {
  Figures x(100ms);  // the timer's period (real time)
  auto& f = x.f;
  auto& t = x.t;
  auto& io = x.io;
  const auto& lines = x.lines;
  t += 10min;  // what the bot's clock says has passed
  io.run_for(300ms);
  EXPECT_TRUE(f.stale());
  bool said = false;
  for (const auto& l : lines) {
    if (l.kind == "stats" && l.message.find("no stats from the bot for 10m") != std::string::npos) said = true;
  }
  EXPECT_TRUE(said);
}

}  // namespace
}  // namespace memvisor::daemon
