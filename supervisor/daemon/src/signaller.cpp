// The pidfd-based Signaller.
#include "memvisor/daemon/signaller.hpp"

#include <csignal>

namespace memvisor::daemon {

Result<void> PidfdSignaller::signal(const Pidfd& target, int sig, bool group) {
  if (!target.valid()) return Error{"esrch", "no process to signal"};
  auto r = pidfdSendSignal(target.fd(), sig, group);
  if (r.ok() || !group || r.error().code != "einval") return r;
  // Older kernel: no group flag. The leader still running pins its PID (= the group id).
  if (pidfdExited(target.fd())) {
    return Error{"esrch", "process group leader " + std::to_string(target.pid()) + " exited"};
  }
  if (::killpg(target.pid(), sig) != 0) {
    return errnoError(errno, "killpg(" + std::to_string(target.pid()) + ")");
  }
  return okResult();
}

}  // namespace memvisor::daemon
