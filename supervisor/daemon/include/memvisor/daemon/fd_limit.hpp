// The open-files budget of one memvisord supervising many bots. At start memvisord raises
// its RLIMIT_NOFILE soft limit to the hard limit (the soft default of 1024 would stop it
// somewhere past 100 bots) and says how many bots the limit leaves room for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace memvisor::daemon {

// Open files one bot may hold: its pidfd, its statm (kept open: one pread a sample), its
// bot session's socket, and the kernel notifications on a cgroup it owns (up to 5 v1
// threshold eventfds and a PSI trigger). A bot without a session or an owned cgroup
// holds 2. Every other /proc file is opened, read and closed on the slow schedule.
inline constexpr std::size_t kFdsPerBot = 9;
// memvisord's own: stdio, journal file, bot and control listeners, up to 64 control
// connections, the metrics endpoint, epoll, timers, signals.
inline constexpr std::size_t kFdReserve = 128;

struct FdLimit {
  std::uint64_t before = 0;  // soft limit found at start
  std::uint64_t soft = 0;    // soft limit now
  std::uint64_t hard = 0;
  std::string error;         // setrlimit failed (the limit stays `before`)
};

// Raises the soft RLIMIT_NOFILE to the hard limit (a no-op when they are equal).
FdLimit raiseOpenFileLimit();

// How many bots fit in `soft` open files, after memvisord's own reserve. Pure.
std::size_t botsThatFit(std::uint64_t soft, std::size_t per_bot = kFdsPerBot,
                        std::size_t reserve = kFdReserve);

// The journal line: "open files: soft limit raised from 1024 to 524288 (the hard limit):
// room for about 65520 bots at up to 8 files each".
std::string describe(const FdLimit& limit);

}  // namespace memvisor::daemon
