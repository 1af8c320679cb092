// The states of a supervised bot process, as supervisord names them, and the pure restart
// policy (capped exponential backoff, crash-loop limit) that moves a bot between them.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace memvisor::daemon {

enum class ProcessState { kStopped, kStarting, kRunning, kBackoff, kStopping, kExited, kFatal };

const char* toString(ProcessState s);

struct RestartOptions {
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  double factor = 2.0;
  // Consecutive failed starts (exits before `stable_after`) allowed before FATAL.
  int crash_loop_limit = 5;
  // A process that ran this long counts as started; its exit resets the failure count.
  std::chrono::milliseconds stable_after{10000};
};

// Pure: given how a process ended, says whether and when to start it again.
class RestartPolicy {
 public:
  explicit RestartPolicy(RestartOptions options) : options_(options) {}

  struct Decision {
    bool give_up = false;                // crash loop: go FATAL
    std::chrono::milliseconds delay{0};  // wait before the next start
    int failures = 0;                    // consecutive quick exits so far
  };

  // Records an unexpected exit after `ran_for` and decides what comes next.
  Decision onExit(std::chrono::milliseconds ran_for);
  // A deliberate restart (memory action, operator): not a failure, starts at once.
  void onDeliberateRestart() {}
  // The operator started the bot again: forget past failures.
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }
  const RestartOptions& options() const { return options_; }
  void setOptions(RestartOptions o) { options_ = o; }

 private:
  RestartOptions options_;
  int failures_ = 0;
};

}  // namespace memvisor::daemon
