#include "memvisor/daemon/fd_limit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace memvisor::daemon {

namespace {
std::string show(std::uint64_t v) {
  return v == static_cast<std::uint64_t>(RLIM_INFINITY) ? "unlimited" : std::to_string(v);
}
}  // namespace

FdLimit raiseOpenFileLimit() {
  FdLimit out;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    out.error = std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
    return out;
  }
  out.before = out.soft = rl.rlim_cur;
  out.hard = rl.rlim_max;
  if (rl.rlim_cur == rl.rlim_max) return out;
  rl.rlim_cur = rl.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    out.error = std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
    return out;
  }
  out.soft = rl.rlim_cur;
  return out;
}

std::size_t botsThatFit(std::uint64_t soft, std::size_t per_bot, std::size_t reserve) {
  if (per_bot == 0 || soft <= reserve) return 0;
  return static_cast<std::size_t>((soft - reserve) / per_bot);
}

std::string describe(const FdLimit& limit) {
  std::string s = "open files: ";
  if (!limit.error.empty()) {
    s += "could not raise the soft limit " + show(limit.before) + " to the hard limit " +
         show(limit.hard) + " (" + limit.error + ")";
  } else if (limit.soft != limit.before) {
    s += "soft limit raised from " + show(limit.before) + " to " + show(limit.soft) +
         " (the hard limit)";
  } else {
    s += "limit " + show(limit.soft) + " (soft = hard)";
  }
  return s + ": room for about " + std::to_string(botsThatFit(limit.soft)) + " bots at up to " +
         std::to_string(kFdsPerBot) + " files each";
}

}  // namespace memvisor::daemon
