// The ppid walk behind the bot socket's SO_PEERCRED check.
#include "memvisor/daemon/peer_auth.hpp"

#include "memvisor/sampling/process_files.hpp"

namespace memvisor::daemon {

bool isSameOrDescendant(const sampling::SysPaths& paths, pid_t pid, pid_t ancestor) {
  if (pid <= 0 || ancestor <= 0) return false;
  for (int depth = 0; depth < 64 && pid > 1; ++depth) {
    if (pid == ancestor) return true;
    auto stat = sampling::readStat(paths, pid);
    if (!stat) return false;
    pid = stat->ppid;
  }
  return pid == ancestor;
}

}  // namespace memvisor::daemon
