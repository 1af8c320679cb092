// BotProcess: the lifecycle of one supervised bot's process on the daemon's io_context:
// spawn (or adopt, in attach mode), watch its exit through its pidfd, restart with capped
// exponential backoff up to a crash-loop limit (then FATAL), and the graceful stop sequence
// (protocol shutdown, stop signal, SIGKILL) to its whole process group.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memvisor/daemon/child_reaper.hpp"
#include "memvisor/daemon/pidfd.hpp"
#include "memvisor/daemon/process_state.hpp"
#include "memvisor/daemon/signaller.hpp"
#include "memvisor/daemon/spawn.hpp"
#include "memvisor/result.hpp"

namespace memvisor::daemon {

struct ProcessOptions {
  std::string name;
  // Spawn mode: what to run. Attach mode: how to start it again (empty argv = never).
  SpawnSpec spawn;
  bool attach = false;
  // Attach mode by pidfile or cmdline: finds the bot's pid (nullopt = not running now).
  // Empty function: the bot is adopted when it connects.
  std::function<std::optional<pid_t>()> discover;
  std::chrono::milliseconds discover_interval{2000};
  // Attach mode without a restart command: may memvisord stop it (its own container or
  // service manager restarting it)? Otherwise a restart decision is refused.
  bool attach_allow_stop = false;

  RestartOptions restart;
  bool autorestart = true;
  int stop_signal = 15;
  std::chrono::milliseconds shutdown_deadline{10000};  // protocol shutdown before the signal
  std::chrono::milliseconds stop_timeout{10000};       // stop signal before SIGKILL
  // After the leader of a spawned bot exits, SIGKILL what is left of its process group
  // (workers must not outlive it, unsupervised and holding memory).
  bool kill_group_leftovers = true;
};

class BotProcess {
 public:
  using Clock = std::chrono::steady_clock;
  struct Hooks {
    // Every state change, with its reason (journal, status).
    std::function<void(ProcessState from, ProcessState to, const std::string& reason)> on_state;
    // A new incarnation runs (spawned or adopted); `owned` = memvisord started it.
    std::function<void(pid_t pid, bool owned)> on_started;
    // The incarnation ended, after `ran_for`.
    std::function<void(pid_t pid, const ExitInfo& info, std::chrono::milliseconds ran_for,
                       bool expected)>
        on_exit;
    // Graceful stop, step 1: ask the bot over the protocol. Returns false when there is no
    // session (go straight to the stop signal).
    std::function<bool(std::chrono::milliseconds deadline, const std::string& reason)>
        request_shutdown;
    // Called before each spawn: may fill spec.cgroup_procs_path (memvisord's own cgroup).
    std::function<Result<void>(SpawnSpec& spec)> before_spawn;
    // A signal was sent (journal): sig, group, result.
    std::function<void(int sig, const Result<void>& result)> on_signal;
  };

  BotProcess(boost::asio::io_context& io, ChildReaper& reaper, Signaller& signaller,
             ProcessOptions options, Hooks hooks);
  ~BotProcess();
  BotProcess(const BotProcess&) = delete;
  BotProcess& operator=(const BotProcess&) = delete;

  // STOPPED/EXITED/FATAL/BACKOFF -> STARTING now (operator start: crash count reset).
  // Attach mode: look for the process (or wait for it to connect).
  void start(const std::string& reason);
  // How a stop begins: with the protocol's `shutdown` (cooperative), or straight with the
  // stop signal (the hard ceiling: the bot's cooperation is not waited for).
  enum class StopMode { kCooperative, kSignal };
  // Graceful stop; `done` runs once the process is gone (at once when none runs).
  void stop(const std::string& reason, std::function<void()> done = {},
            StopMode mode = StopMode::kCooperative);
  // Stop then start at once, not counted as a crash. Refused (Error) in attach mode
  // when memvisord has no way to start the bot again and may not stop it.
  Result<void> restart(const std::string& reason, std::function<void()> done = {},
                       StopMode mode = StopMode::kCooperative);
  // Attach mode: supervise `pid` (found by discovery, or the peer that connected).
  Result<void> adopt(pid_t pid, const std::string& reason);
  // Spawn mode, at memvisord's start: take over `pid`, a bot an earlier memvisord spawned
  // (it leads its own process group) and that outlived it. Treated as ours (stop sequence
  // and signals to its group, restarts by spawning) but it is not our child: its exit is
  // seen through its pidfd, without an exit status.
  Result<void> reclaim(pid_t pid, const std::string& reason);
  // SIGKILL to the process group now, if memvisord started it (impatient shutdown).
  void killNow();
  // Applies new options (a config reload); the running process is untouched.
  void setOptions(ProcessOptions options);

  ProcessState state() const { return state_; }
  pid_t pid() const { return pidfd_.valid() ? pidfd_.pid() : 0; }
  bool running() const { return pidfd_.valid(); }
  // The running process's pidfd (owned here; -1 when none): valid until it exits.
  int pidfd() const { return pidfd_.fd(); }
  // The tracked process has exited though its exit is not handled yet (pidfd readable).
  // Whatever was read through its pid meanwhile may describe a process that reused it.
  bool exitPending() const { return pidfd_.valid() && pidfdExited(pidfd_.fd()); }
  bool owned() const { return owned_; }
  std::chrono::milliseconds uptime() const;
  int restarts() const { return restarts_; }
  const ProcessOptions& options() const { return options_; }
  // Can memvisord restart this bot at all (spawned, or attach with a way to do it)?
  bool canRestart() const;

 private:
  void setState(ProcessState to, const std::string& reason);
  void spawnNow(const std::string& reason);
  void track(SpawnedProcess p, bool owned, bool child, const std::string& reason);
  void watchPidfd();
  void unwatchPidfd();
  void onExit(const ExitInfo& info);
  void afterExit(const ExitInfo& info, std::chrono::milliseconds ran_for);
  void scheduleStart(std::chrono::milliseconds delay, const std::string& reason);
  void scheduleDiscover(std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  void stopStep(int step, const std::string& reason);
  void sendSignal(int sig);
  void finishStop();

  boost::asio::io_context& io_;
  ChildReaper& reaper_;
  Signaller& signaller_;
  ProcessOptions options_;
  Hooks hooks_;
  RestartPolicy restart_policy_;

  ProcessState state_ = ProcessState::kStopped;
  Pidfd pidfd_;
  bool owned_ = false;
  bool child_ = false;  // our child: its exit status comes from the reaper
  Clock::time_point started_at_{};
  std::unique_ptr<boost::asio::posix::stream_descriptor> exit_watch_;  // on pidfd_'s fd
  boost::asio::steady_timer timer_;  // start delay, STARTING->RUNNING, stop steps
  boost::asio::steady_timer discover_timer_;
  std::uint64_t incarnation_ = 0;  // stale handlers compare it and do nothing
  bool stopping_ = false;
  bool restart_after_stop_ = false;
  std::string stop_reason_;
  std::vector<std::function<void()>> stop_waiters_;
  int restarts_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace memvisor::daemon
