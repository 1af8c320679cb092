// The lifecycle state machine of one bot process. All handlers run on the io_context thread
// and check `alive_` and the incarnation, so a late timer or exit never acts on the wrong
// process or a destroyed object.
#include "memvisor/daemon/bot_process.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>

namespace memvisor::daemon {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {
milliseconds since(BotProcess::Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(BotProcess::Clock::now() - t);
}
}  // namespace

BotProcess::BotProcess(asio::io_context& io, ChildReaper& reaper, Signaller& signaller,
                       ProcessOptions options, Hooks hooks)
    : io_(io),
      reaper_(reaper),
      signaller_(signaller),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      restart_policy_(options_.restart),
      timer_(io),
      discover_timer_(io) {}

BotProcess::~BotProcess() {
  *alive_ = false;
  timer_.cancel();
  discover_timer_.cancel();
  if (pidfd_.valid() && child_) reaper_.forget(pidfd_.pid());
  unwatchPidfd();
}

void BotProcess::unwatchPidfd() {
  // The watch borrows pidfd_'s descriptor (one fd per bot, not two): hand it back, never
  // close it here.
  if (exit_watch_) {
    boost::system::error_code ec;
    exit_watch_->cancel(ec);
    (void)exit_watch_->release();
    exit_watch_.reset();
  }
}

std::chrono::milliseconds BotProcess::uptime() const {
  return pidfd_.valid() ? since(started_at_) : milliseconds(0);
}

bool BotProcess::canRestart() const {
  return !options_.attach || !options_.spawn.argv.empty() || options_.attach_allow_stop;
}

void BotProcess::killNow() {
  if (pidfd_.valid() && owned_) sendSignal(SIGKILL);
}

void BotProcess::setOptions(ProcessOptions options) {
  options_ = std::move(options);
  restart_policy_.setOptions(options_.restart);
}

void BotProcess::setState(ProcessState to, const std::string& reason) {
  const ProcessState from = state_;
  state_ = to;
  if (hooks_.on_state) hooks_.on_state(from, to, reason);
}

void BotProcess::start(const std::string& reason) {
  if (pidfd_.valid() || stopping_) return;
  restart_policy_.reset();
  timer_.cancel();
  if (options_.attach && options_.spawn.argv.empty()) {
    setState(ProcessState::kExited, "waiting for the bot: " + reason);
    scheduleDiscover();
    return;
  }
  spawnNow(reason);
}

void BotProcess::spawnNow(const std::string& reason) {
  SpawnSpec spec = options_.spawn;
  setState(ProcessState::kStarting, reason);
  Result<void> prepared = hooks_.before_spawn ? hooks_.before_spawn(spec) : okResult();
  Result<SpawnedProcess> spawned =
      prepared.ok() ? spawnProcess(spec) : Result<SpawnedProcess>(prepared.error());
  if (!spawned) {
    const auto d = restart_policy_.onExit(milliseconds(0));
    if (d.give_up) {
      setState(ProcessState::kFatal, spawned.error().message);
      return;
    }
    setState(ProcessState::kBackoff, spawned.error().message);
    scheduleStart(d.delay, "retry after failed start");
    return;
  }
  track(std::move(spawned.value()), true, true, reason);
  // A run that lasts start_seconds is a good start (supervisord's startsecs).
  const std::uint64_t inc = incarnation_;
  timer_.expires_after(options_.restart.stable_after);
  timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_), inc](boost::system::error_code ec) {
    if (ec || alive.expired() || inc != incarnation_) return;
    if (state_ == ProcessState::kStarting) {
      restart_policy_.reset();
      setState(ProcessState::kRunning,
               "up for " + std::to_string(options_.restart.stable_after.count()) + "ms");
    }
  });
}

void BotProcess::track(SpawnedProcess p, bool owned, bool child, const std::string& /*reason*/) {
  unwatchPidfd();  // before pidfd_'s old descriptor closes under the watch
  pidfd_ = std::move(p.pidfd);
  owned_ = owned;
  child_ = child;
  started_at_ = Clock::now();
  ++incarnation_;
  const pid_t pid = pidfd_.pid();
  if (child) {
    const std::uint64_t inc = incarnation_;
    reaper_.watch(pid,
                  [this, alive = std::weak_ptr<bool>(alive_), inc](pid_t, const ExitInfo& info) {
                    if (alive.expired() || inc != incarnation_) return;
                    onExit(info);
                  });
  }
  watchPidfd();
  if (hooks_.on_started) hooks_.on_started(pid, owned);
}

void BotProcess::watchPidfd() {
  unwatchPidfd();
  exit_watch_ = std::make_unique<asio::posix::stream_descriptor>(io_, pidfd_.fd());
  const std::uint64_t inc = incarnation_;
  exit_watch_->async_wait(
      asio::posix::stream_descriptor::wait_read,
      [this, alive = std::weak_ptr<bool>(alive_), inc](boost::system::error_code ec) {
        if (ec || alive.expired() || inc != incarnation_) return;
        if (child_) {
          reaper_.reapAll();  // delivers our exit through the watch() handler
        } else {
          onExit(ExitInfo{});
        }
      });
}

void BotProcess::onExit(const ExitInfo& info) {
  const milliseconds ran_for = since(started_at_);
  const pid_t pid = pidfd_.pid();
  if (owned_ && options_.kill_group_leftovers) {
    // ESRCH (nobody left) is the normal case.
    auto r = signaller_.signal(pidfd_, SIGKILL, true);
    if (r.ok() && hooks_.on_signal) hooks_.on_signal(SIGKILL, r);
  }
  ++incarnation_;  // late handlers of this incarnation become no-ops
  unwatchPidfd();
  pidfd_.reset();
  timer_.cancel();
  const bool expected = stopping_;
  if (hooks_.on_exit) hooks_.on_exit(pid, info, ran_for, expected);
  if (stopping_) {
    finishStop();
    return;
  }
  afterExit(info, ran_for);
}

void BotProcess::afterExit(const ExitInfo& info, milliseconds ran_for) {
  const bool can_spawn = !options_.spawn.argv.empty();
  if (!can_spawn || !options_.autorestart) {
    setState(ProcessState::kExited, info.describe());
    if (options_.attach) scheduleDiscover();
    return;
  }
  const auto d = restart_policy_.onExit(ran_for);
  if (d.give_up) {
    setState(ProcessState::kFatal, info.describe() + ", " + std::to_string(d.failures) +
                                       " exits in a row within " +
                                       std::to_string(options_.restart.stable_after.count()) +
                                       "ms of starting: crash loop, giving up");
    return;
  }
  setState(ProcessState::kBackoff, info.describe() + ", restart in " +
                                       std::to_string(d.delay.count()) + "ms (failure " +
                                       std::to_string(d.failures) + ")");
  scheduleStart(d.delay, "restart after " + info.describe());
}

void BotProcess::scheduleStart(milliseconds delay, const std::string& reason) {
  const std::uint64_t inc = incarnation_;
  timer_.expires_after(delay);
  timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_), inc, reason](boost::system::error_code ec) {
        if (ec || alive.expired() || inc != incarnation_) return;
        if (state_ != ProcessState::kBackoff) return;
        ++restarts_;
        spawnNow(reason);
      });
}

void BotProcess::scheduleDiscover(milliseconds delay) {
  if (!options_.discover) return;  // adopted when it connects
  discover_timer_.expires_after(delay);
  discover_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired() || pidfd_.valid() || stopping_) return;
        if (auto pid = options_.discover ? options_.discover() : std::nullopt) {
          if (adopt(*pid, "found").ok()) return;
        }
        scheduleDiscover(options_.discover_interval);
      });
}

Result<void> BotProcess::adopt(pid_t pid, const std::string& reason) {
  if (pidfd_.valid()) {
    if (pidfd_.pid() == pid) return okResult();
    return Error{"busy", "already supervising pid " + std::to_string(pidfd_.pid())};
  }
  auto fd = Pidfd::open(pid);
  if (!fd) return fd.error().wrap("adopting pid " + std::to_string(pid));
  if (pidfdExited(fd->fd())) {
    return Error{"esrch", "pid " + std::to_string(pid) + " has already exited"};
  }
  discover_timer_.cancel();
  track(SpawnedProcess{pid, std::move(fd.value())}, false, false, reason);
  setState(ProcessState::kRunning, "attached to pid " + std::to_string(pid) + " (" + reason + ")");
  return okResult();
}

Result<void> BotProcess::reclaim(pid_t pid, const std::string& reason) {
  if (pidfd_.valid()) return Error{"busy", "already supervising pid " + std::to_string(pidfd_.pid())};
  auto fd = Pidfd::open(pid);
  if (!fd) return fd.error().wrap("taking over pid " + std::to_string(pid));
  timer_.cancel();
  track(SpawnedProcess{pid, std::move(fd.value())}, true, false, reason);
  setState(ProcessState::kRunning,
           "took over pid " + std::to_string(pid) + " (" + reason + "), no restart");
  return okResult();
}

void BotProcess::stop(const std::string& reason, std::function<void()> done, StopMode mode) {
  if (done) stop_waiters_.push_back(std::move(done));
  if (stopping_) return;
  if (!pidfd_.valid()) {
    timer_.cancel();
    discover_timer_.cancel();
    ++incarnation_;  // a pending BACKOFF start must not fire
    if (state_ != ProcessState::kStopped) setState(ProcessState::kStopped, reason);
    restart_after_stop_ = false;
    auto waiters = std::move(stop_waiters_);
    stop_waiters_.clear();
    for (auto& w : waiters) w();
    return;
  }
  stopping_ = true;
  stop_reason_ = reason;
  setState(ProcessState::kStopping, reason);
  stopStep(mode == StopMode::kSignal ? 1 : 0, reason);
}

Result<void> BotProcess::restart(const std::string& reason, std::function<void()> done,
                                 StopMode mode) {
  if (!canRestart()) {
    return Error{"not_permitted",
                 "memvisord did not start this bot and has no restart_command for it"};
  }
  if (!pidfd_.valid()) {
    if (done) done();
    if (!options_.spawn.argv.empty() && !stopping_) {
      timer_.cancel();
      restart_policy_.reset();
      ++restarts_;
      spawnNow("restart: " + reason);
    }
    return okResult();
  }
  restart_after_stop_ = true;
  stop(reason, std::move(done), mode);
  return okResult();
}

void BotProcess::stopStep(int step, const std::string& reason) {
  milliseconds wait{0};
  if (step == 0) {
    if (hooks_.request_shutdown && hooks_.request_shutdown(options_.shutdown_deadline, reason)) {
      wait = options_.shutdown_deadline;
    } else {
      step = 1;
    }
  }
  if (step == 1) {
    sendSignal(options_.stop_signal);
    wait = options_.stop_timeout;
  } else if (step >= 2) {
    sendSignal(SIGKILL);
    wait = milliseconds(5000);  // SIGKILL again if it is stuck (e.g. in D state)
  }
  const std::uint64_t inc = incarnation_;
  timer_.expires_after(wait);
  timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_), inc, step, reason](boost::system::error_code ec) {
        if (ec || alive.expired() || inc != incarnation_ || !stopping_) return;
        stopStep(step + 1, reason);
      });
}

void BotProcess::sendSignal(int sig) {
  // Our bot leads its own group: the group gets the signal. An adopted process's group is
  // not ours to signal.
  auto r = signaller_.signal(pidfd_, sig, owned_);
  if (hooks_.on_signal) hooks_.on_signal(sig, r);
}

void BotProcess::finishStop() {
  stopping_ = false;
  timer_.cancel();
  const bool again = restart_after_stop_;
  restart_after_stop_ = false;
  if (again && !options_.spawn.argv.empty()) {
    restart_policy_.reset();
    ++restarts_;
    spawnNow("restart: " + stop_reason_);
  } else if (again && options_.attach) {
    setState(ProcessState::kExited, "stopped for restart by its own manager: " + stop_reason_);
    scheduleDiscover();
  } else {
    setState(ProcessState::kStopped, stop_reason_);
  }
  auto waiters = std::move(stop_waiters_);
  stop_waiters_.clear();
  for (auto& w : waiters) w();
}

}  // namespace memvisor::daemon
