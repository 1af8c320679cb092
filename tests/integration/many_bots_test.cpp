// One memvisord, a few hundred real processes: `memvisorctl status` lists every one of them
// (the answer is several times the 64 KiB frame: it comes in parts), as a table, as JSON
// and by name; memvisord journals when all are started and how many open files it holds,
// and stays within the open-files budget it announces per bot.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "daemon_harness.hpp"

namespace memvisor::testing {
namespace {

constexpr int kBots = 256;
constexpr int kFdsPerBot = 8;    // memvisor/daemon/fd_limit.hpp
constexpr int kFdReserve = 128;  // idem

struct CtlRun {
  int code = -1;
  std::string out;
};

CtlRun ctl(const Daemon& d, const std::string& args) {
  CtlRun r;
  const std::string cmd =
      std::string(MEMVISORCTL_BIN) + " --socket " + d.socket("ctl.sock") + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 65536> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string name(int i) {
  char b[16];
  std::snprintf(b, sizeof b, "s%03d", i);
  return b;
}

TEST(ManyBots, StatusListsEveryOneOfAFewHundredBots) {
  Daemon d("many");
  std::string bots;
  for (int i = 0; i < kBots; ++i) {
    bots += "  - name: " + name(i) +
            "\n    limit: 384MiB\n    spawn:\n      command: [/bin/sleep, \"600\"]\n";
  }
  d.writeConfig(bots);
  d.start();
  const auto started = d.waitFor(
      [](const json& e) { return str(e, "kind") == "start" && e.contains("start_ms"); }, 100s);
  ASSERT_TRUE(started) << d.journalText().substr(0, 4000);
  EXPECT_EQ(str(*started, "bots"), std::to_string(kBots));
  EXPECT_EQ(str(*started, "running"), std::to_string(kBots));
  const auto limits = d.waitForKind("limits", 1s);
  ASSERT_TRUE(limits) << "no open-files line";
  EXPECT_NE(str(*limits, "msg").find("room for about"), std::string::npos) << limits->dump();

  // JSON: every bot, in config order, each with its own running process.
  const CtlRun j = ctl(d, "status --json");
  ASSERT_EQ(j.code, 0) << j.out.substr(0, 2000);
  const json parsed = json::parse(j.out);
  ASSERT_EQ(parsed["bots"].size(), static_cast<std::size_t>(kBots));
  std::set<long long> pids;
  for (int i = 0; i < kBots; ++i) {
    const auto& b = parsed["bots"][static_cast<std::size_t>(i)];
    EXPECT_EQ(b["name"], name(i));
    EXPECT_GT(b["pid"].get<long long>(), 0) << b.dump();
    pids.insert(b["pid"].get<long long>());
  }
  EXPECT_EQ(pids.size(), static_cast<std::size_t>(kBots));
  for (long long pid : pids) EXPECT_TRUE(fs::exists("/proc/" + std::to_string(pid))) << pid;

  // The table: a header and one line per bot.
  const CtlRun t = ctl(d, "status");
  ASSERT_EQ(t.code, 0) << t.out.substr(0, 2000);
  EXPECT_EQ(std::count(t.out.begin(), t.out.end(), '\n'), kBots + 1);
  for (int i = 0; i < kBots; ++i) {
    EXPECT_NE(t.out.find("\n" + name(i) + " "), std::string::npos) << name(i);
  }

  // By name: only those.
  const CtlRun some = ctl(d, "status s007 s255 --json");
  ASSERT_EQ(some.code, 0) << some.out;
  const json two = json::parse(some.out);
  ASSERT_EQ(two["bots"].size(), 2u);
  EXPECT_EQ(two["bots"][1]["name"], "s255");

  // The open files memvisord holds stay within the budget its room estimate assumes.
  std::size_t fds = 0;
  for ([[maybe_unused]] const auto& e :
       fs::directory_iterator("/proc/" + std::to_string(d.pid) + "/fd")) {
    ++fds;
  }
  EXPECT_LE(fds, static_cast<std::size_t>(kBots * kFdsPerBot + kFdReserve));
  RecordProperty("memvisord_fds", static_cast<int>(fds));
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace memvisor::testing
