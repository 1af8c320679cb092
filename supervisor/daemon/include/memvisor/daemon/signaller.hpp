// Signaller: the one seam through which memvisord signals processes, so the lifecycle's
// stop/kill sequence is unit-tested with a recording fake and run for real with pidfds.
#pragma once

#include "memvisor/daemon/pidfd.hpp"
#include "memvisor/result.hpp"

namespace memvisor::daemon {

class Signaller {
 public:
  virtual ~Signaller() = default;
  // Sends `sig` to the process behind `target`, or to the process group it leads when
  // `group` is true. Contract: never signals a PID number that may have been reused; an
  // already-gone target yields an Error with code "esrch", which callers treat as normal.
  virtual Result<void> signal(const Pidfd& target, int sig, bool group) = 0;
};

// The real one: pidfd_send_signal(2). For a group on a kernel without
// PIDFD_SIGNAL_PROCESS_GROUP (< 6.9), it falls back to killpg() after checking through the
// pidfd that the leader is still alive (so its PID, the group id, cannot have been reused).
class PidfdSignaller : public Signaller {
 public:
  Result<void> signal(const Pidfd& target, int sig, bool group) override;
};

}  // namespace memvisor::daemon
