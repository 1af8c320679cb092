// waitpid(-1, WNOHANG) loop; PIDs stay unambiguous because a child's PID cannot be reused
// before we reap it.
#include "memvisor/daemon/child_reaper.hpp"

#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace memvisor::daemon {

ExitInfo ExitInfo::fromWaitStatus(int status) {
  ExitInfo e;
  e.known = true;
  if (WIFSIGNALED(status)) {
    e.signaled = true;
    e.code = WTERMSIG(status);
  } else {
    e.code = WEXITSTATUS(status);
  }
  return e;
}

std::string ExitInfo::describe() const {
  if (!known) return "unknown (not our child)";
  if (!signaled) return "exit " + std::to_string(code);
  const char* abbrev = sigabbrev_np(code);
  return "signal " + std::to_string(code) + (abbrev ? std::string(" (") + abbrev + ")" : "");
}

void ChildReaper::watch(pid_t pid, ExitHandler handler) { watched_[pid] = std::move(handler); }

int ChildReaper::reapAll() {
  int reaped = 0;
  while (true) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) break;  // 0: children left but none exited; ECHILD: no children
    ++reaped;
    const ExitInfo info = ExitInfo::fromWaitStatus(status);
    auto it = watched_.find(pid);
    if (it == watched_.end()) {
      if (on_orphan_) on_orphan_(pid, info);
      continue;
    }
    auto handler = std::move(it->second);
    watched_.erase(it);
    if (handler) handler(pid, info);
  }
  return reaped;
}

}  // namespace memvisor::daemon
