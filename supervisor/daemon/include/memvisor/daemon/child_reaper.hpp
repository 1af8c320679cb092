// ChildReaper: the single place that calls waitpid. memvisord reaps every child that exits
// (and, as PID 1 in a container, every orphan re-parented to it) and hands the wait status
// of the children it spawned to whoever watches them.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>

namespace memvisor::daemon {

// How a process ended, from its wait status (or unknown for a process we did not start).
struct ExitInfo {
  bool known = false;  // false: not our child (attach mode): no status to read
  bool signaled = false;
  int code = 0;  // exit code, or the signal number when `signaled`
  static ExitInfo fromWaitStatus(int status);
  // "exit 0", "exit 3", "signal 9 (KILL)", "unknown (not our child)"
  std::string describe() const;
};

class ChildReaper {
 public:
  using ExitHandler = std::function<void(pid_t, const ExitInfo&)>;
  // Orphans (not watched) reaped: for a debug log line.
  using OrphanHandler = std::function<void(pid_t, const ExitInfo&)>;

  explicit ChildReaper(OrphanHandler on_orphan = {}) : on_orphan_(std::move(on_orphan)) {}

  // Delivers the exit of `pid` (our child) to `handler`, once.
  void watch(pid_t pid, ExitHandler handler);
  void forget(pid_t pid) { watched_.erase(pid); }
  // Reaps every exited child without blocking (on SIGCHLD, or when a child's pidfd polls
  // readable). Handlers run after the child is reaped. Returns how many were reaped.
  int reapAll();
  std::size_t watchedCount() const { return watched_.size(); }

 private:
  std::map<pid_t, ExitHandler> watched_;
  OrphanHandler on_orphan_;
};

}  // namespace memvisor::daemon
