// Process states and the backoff arithmetic.
#include "memvisor/daemon/process_state.hpp"

#include <algorithm>
#include <cmath>

namespace memvisor::daemon {

const char* toString(ProcessState s) {
  switch (s) {
    case ProcessState::kStopped:
      return "STOPPED";
    case ProcessState::kStarting:
      return "STARTING";
    case ProcessState::kRunning:
      return "RUNNING";
    case ProcessState::kBackoff:
      return "BACKOFF";
    case ProcessState::kStopping:
      return "STOPPING";
    case ProcessState::kExited:
      return "EXITED";
    case ProcessState::kFatal:
      return "FATAL";
  }
  return "UNKNOWN";
}

RestartPolicy::Decision RestartPolicy::onExit(std::chrono::milliseconds ran_for) {
  // A process that ran long enough was a good start: its crash begins a fresh series.
  failures_ = ran_for >= options_.stable_after ? 1 : failures_ + 1;
  Decision d;
  d.failures = failures_;
  if (failures_ > options_.crash_loop_limit) {
    d.give_up = true;
    return d;
  }
  const double scaled = static_cast<double>(options_.initial_backoff.count()) *
                        std::pow(std::max(options_.factor, 1.0), failures_ - 1);
  const double capped = std::min(scaled, static_cast<double>(options_.max_backoff.count()));
  d.delay = std::chrono::milliseconds(static_cast<std::int64_t>(capped));
  return d;
}

}  // namespace memvisor::daemon
