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

TEST(BotFigures, StatsAgeAndGoStaleOnTheInjectedClock) {
  boost::asio::io_context io;
  SteadyTime t = SteadyTime{} + 1h;
  std::vector<Line> lines;
  BotFigures f(
      io, "amayo", nullptr,
      [&](const std::string& kind, proto::Level, const std::string& message,
          std::map<std::string, std::string>) { lines.push_back({kind, message}); },
      [&] { return t; });
  BotFigures::Settings s;
  s.monitor.stale_after = 3;
  s.stats_interval = 5s;
  f.configure(s);
  f.start();
  f.onStats(proto::Stats{});

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
  boost::asio::io_context io;
  SteadyTime t = SteadyTime{} + 1h;
  std::vector<Line> lines;
  BotFigures f(
      io, "amayo", nullptr,
      [&](const std::string& kind, proto::Level, const std::string& message,
          std::map<std::string, std::string>) { lines.push_back({kind, message}); },
      [&] { return t; });
  BotFigures::Settings s;
  s.monitor.stale_after = 3;
  s.stats_interval = 100ms;  // the timer's period (real time)
  f.configure(s);
  f.start();
  f.onStats(proto::Stats{});
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
