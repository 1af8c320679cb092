// One bot's supervision loop: sample -> policy -> act -> feed back -> journal. This file has
// the lifecycle, the sampling loop and the status; the action runner, the bot session and
// the kernel detection are in supervised_bot_{actions,session,detection}.cpp.
#include "memvisor/daemon/supervised_bot.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "memvisor/config/units.hpp"
#include "memvisor/daemon/bot_record.hpp"
#include "memvisor/daemon/policy_wire.hpp"
#include "memvisor/policy/schedule.hpp"
#include "memvisor/sampling/cgroup_memory.hpp"
#include "memvisor/sampling/discover.hpp"
#include "memvisor/sampling/process_files.hpp"

namespace memvisor::daemon {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

// Kernel event storms do not become busy loops; short enough not to delay the sample that a
// threshold eventfd asks for (a crossing fires once, a bounce below and back a few times).
constexpr milliseconds kMinSampleSpacing{2};
// The slow figures (process tree, status breakdown, cgroup stat and OOM counter): every 2 s
// while the bot is within a second of a decision figure at poll.max_growth, every 10 s
// farther away, every 30 s while the kernel watches the decision figures, and at once after
// a kernel notification. Idle bots far from their limits are most bots, and this refresh
// (six files) cost more than all their other samples together.
constexpr milliseconds kSlowInterval{2'000};
constexpr milliseconds kFarSlowInterval{10'000};
constexpr milliseconds kKernelWatchedSlowInterval{30'000};
constexpr milliseconds kNearDecision{1'000};
constexpr milliseconds kPollAfterWake{10'000};
constexpr milliseconds kLoading{2'000};
constexpr milliseconds kLoadingSampleEvery{100};
// Sample timers further out than kAlignAbove are aligned to kAlignGrid (see scheduleSample).
constexpr milliseconds kAlignAbove{100};
constexpr milliseconds kAlignGrid{10};
// Waits of a second or more (poll.max while the kernel watches) share a coarser grid: a
// thousand idle bots then wake the loop a few times a second, not two hundred.
constexpr milliseconds kCoarseAlignAbove{1'000};
constexpr milliseconds kCoarseAlignGrid{250};
// Re-register the v1 thresholds when the policy's figure and the group's usage drift apart by
// this much (the kernel fires 0.2-0.5 MiB past a threshold anyway).
constexpr config::Bytes kEventfdOffsetSlack = 512 * 1024;

}  // namespace

SupervisedBot::SupervisedBot(BotEnv& env, config::BotConfig config)
    : env_(env),
      config_(std::move(config)),
      policy_(config_.policy),
      process_(env.io, env.reaper, env.signaller, processOptions(), processHooks()),
      pstate_(policy::makeState(policy_, now())),
      sample_timer_(env.io),
      connect_timer_(env.io),
      settle_timer_(env.io),
      figure_series_(env.metrics ? &env.metrics->figures() : nullptr),
      figures_(env.io, config_.name, figure_series_,
               [this](const std::string& kind, proto::Level level, const std::string& message,
                      std::map<std::string, std::string> fields) {
                 journal(kind, level, message, std::move(fields));
               },
               env.now),
      liveness_(env.io, LivenessDriver::Hooks{
                            [this](const policy::LivenessVerdict& v) { onLivenessChange(v); },
                            {},
                            [this](double rtt_ms) {
                              if (figure_series_) figure_series_->pingRtt(config_.name, rtt_ms / 1000.0);
                            }},
                env.now) {
  if (env_.metrics) {
    series_ = &env_.metrics->bot(config_.name);
    publishLimit();
  }
  if (env_.saved) {
    if (auto it = env_.saved->find(config_.name); it != env_.saved->end()) {
      const BotCounters& c = it->second;
      restarts_before_ = c.restarts;
      oom_kills_ = c.oom_kills;
      actions_ = c.actions;
      if (series_) {
        env_.metrics->add(*series_, Series::kRestarts, static_cast<double>(c.restarts));
        env_.metrics->add(*series_, Series::kOomKills, static_cast<double>(c.oom_kills));
        env_.metrics->restoreActions(config_.name, c);
      }
    }
  }
  configureFigures();
}

BotCounters SupervisedBot::counters() const {
  BotCounters c;
  c.restarts = restarts_before_ + process_.restarts();
  c.oom_kills = oom_kills_;
  c.actions = actions_;
  if (env_.metrics) env_.metrics->saveActions(config_.name, c);
  return c;
}

void SupervisedBot::countersChanged() {
  if (env_.counters_changed) env_.counters_changed();
}

void SupervisedBot::configureFigures() {
  figures_.configure({config_.monitor, config_.stats_interval});
  liveness_.configure(config_.liveness);
  if (figure_series_) figure_series_->livenessEnabled(config_.name, config_.liveness.enabled);
}

SupervisedBot::~SupervisedBot() {
  *alive_ = false;
  sample_timer_.cancel();
  connect_timer_.cancel();
  settle_timer_.cancel();
  detection_.stop();
  pending_detection_.stop();
  if (session_) session_->close("bot removed");
  if (env_.metrics) env_.metrics->removeBot(config_.name);
  if (cgroup_ && !process_.running()) cgroup_->remove();
}

// ---- lifecycle ---------------------------------------------------------------------------

ProcessOptions SupervisedBot::processOptions() const {
  ProcessOptions o;
  o.name = config_.name;
  const bool attach = config_.mode == config::Mode::kAttach;
  o.attach = attach;
  std::vector<std::pair<std::string, std::string>> env(config_.spawn.env.begin(),
                                                       config_.spawn.env.end());
  env.emplace_back("MEMVISOR_SOCKET", env_.bot_socket);
  env.emplace_back("MEMVISOR_BOT_NAME", config_.name);
  o.spawn.argv = attach ? config_.attach.restart_command : config_.spawn.command;
  o.spawn.env_overrides = std::move(env);
  o.spawn.cwd = config_.spawn.cwd;
  if (!config_.spawn.user.empty()) o.spawn.user = config_.spawn.user;
  if (attach && config_.attach.by != config::AttachBy::kConnect) {
    o.discover = [this] { return discover(); };
  }
  o.attach_allow_stop = config_.attach.allow_shutdown;
  o.restart.initial_backoff = config_.restart.backoff_initial;
  o.restart.max_backoff = config_.restart.backoff_max;
  o.restart.crash_loop_limit = config_.restart.start_retries;
  o.restart.stable_after = config_.restart.start_seconds;
  o.stop_signal = config_.stop_signal;
  o.shutdown_deadline = config_.policy.deadlines.shutdown();
  o.stop_timeout = config_.stop_timeout;
  return o;
}

BotProcess::Hooks SupervisedBot::processHooks() {
  BotProcess::Hooks h;
  h.on_state = [this](ProcessState from, ProcessState to, const std::string& reason) {
    const proto::Level level = to == ProcessState::kFatal     ? proto::Level::kError
                               : to == ProcessState::kBackoff ? proto::Level::kWarn
                                                              : proto::Level::kInfo;
    journal("state", level, std::string(toString(from)) + " -> " + toString(to) + ": " + reason,
            {{"from", toString(from)}, {"to", toString(to)}});
    if (series_) env_.metrics->set(*series_, Series::kFatal, to == ProcessState::kFatal ? 1 : 0);
  };
  h.on_started = [this](pid_t pid, bool owned) { onStarted(pid, owned); };
  h.on_exit = [this](pid_t pid, const ExitInfo& info, milliseconds ran_for, bool expected) {
    onExited(pid, info, ran_for, expected);
  };
  h.request_shutdown = [this](milliseconds deadline, const std::string& reason) {
    return requestShutdown(deadline, reason);
  };
  h.before_spawn = [this](SpawnSpec& spec) { return prepareSpawn(spec); };
  h.on_signal = [this](int sig, const Result<void>& r) {
    const char* abbrev = sigabbrev_np(sig);
    journal("signal", r.ok() ? proto::Level::kInfo : proto::Level::kWarn,
            std::string("SIG") + (abbrev ? abbrev : "?") + " to the bot's process group" +
                (r.ok() ? "" : ": " + r.error().message),
            {{"signal", std::to_string(sig)}, {"result", r.ok() ? "ok" : r.error().code}});
  };
  return h;
}

void SupervisedBot::start(const std::string& reason) {
  if (config_.mode == config::Mode::kSpawn && !process_.running() && takeOver()) return;
  process_.start(reason);
}

bool SupervisedBot::takeOver() {
  const std::string record = botRecordPath(env_.bot_socket, config_.name);
  const auto pid = findRecordedBot(record, env_.paths);
  if (!pid) {
    removeBotRecord(record);  // stale: that process is gone (or its pid reused)
    return false;
  }
  if (config_.spawn.own_cgroup) adoptGroupOf(*pid);
  taking_over_ = true;
  auto r = process_.reclaim(*pid, "spawned by an earlier memvisord, found by " + record);
  taking_over_ = false;
  if (!r) {
    journal("takeover", proto::Level::kWarn,
            "cannot take over pid " + std::to_string(*pid) + ": " + r.error().message);
    return false;
  }
  return true;
}

void SupervisedBot::adoptGroupOf(pid_t pid) {
  // The group the bot is in, when it is the one this memvisord gives it: the predecessor may
  // have been another version, or run with spawn.cgroup off, and a group made by name would
  // be empty, its figures describing nothing.
  const std::string own =
      OwnedCgroup::name(config_.name, OwnedCgroup::instanceTag(env_.bot_socket));
  auto in = sampling::resolveCgroup(env_.paths, pid);
  const bool ours = in && in->hasMemory() &&
                    (cgroup_ ? in->memory_dir == cgroup_->dir()
                             : std::filesystem::path(in->memory_dir).filename() == own);
  if (!ours) {
    journal("takeover", proto::Level::kWarn,
            "pid " + std::to_string(pid) + " is not in " + (cgroup_ ? cgroup_->dir() : own) +
                " but in " + (in ? in->describe() : "an unknown cgroup") +
                ": supervised there until its next start",
            {{"cgroup", in ? in->memory_dir : std::string()}});
    if (cgroup_) cgroup_->remove();  // an earlier run's, now empty
    cgroup_.reset();
    return;
  }
  if (!cgroup_) {
    cgroup_.emplace(OwnedCgroup::adopt(*in->memory_version, in->memory_dir));
    applyKernelLimit();
  }
}

void SupervisedBot::stop(const std::string& reason, std::function<void()> done) {
  process_.stop(reason, std::move(done));
}

Result<void> SupervisedBot::restart(const std::string& reason, std::function<void()> done) {
  journal("restart", proto::Level::kWarn, "restart: " + reason, {{"reason", reason}});
  return process_.restart(reason, std::move(done));
}

std::optional<pid_t> SupervisedBot::discover() const {
  switch (config_.attach.by) {
    case config::AttachBy::kPidfile:
      return sampling::findByPidfile(env_.paths, config_.attach.pidfile);
    case config::AttachBy::kCmdline:
      return sampling::findByCmdline(env_.paths, config_.attach.cmdline_pattern, ::getpid());
    case config::AttachBy::kConnect:
      break;
  }
  return std::nullopt;
}

Result<void> SupervisedBot::prepareSpawn(SpawnSpec& spec) {
  // A group of its own even without a kernel limit: its thresholds need no limit, and wake
  // memvisord within a millisecond of a crossing (issue 10).
  if (!config_.spawn.own_cgroup) return okResult();
  if (cgroup_) {
    // Ours, but not necessarily still there: while the bot was stopped the empty group could
    // be removed by anyone allowed to. Joining a missing group would fail every start.
    auto back = cgroup_->recreateIfMissing();
    if (!back) {
      cgroup_.reset();  // created anew below, which says why it cannot be
    } else if (*back) {
      journal("cgroup", proto::Level::kWarn,
              "the bot's cgroup " + cgroup_->dir() +
                  " was removed while the bot was stopped; created it again",
              {{"cgroup", cgroup_->dir()}});
      applyKernelLimit();
    }
  }
  if (!cgroup_) {
    const std::string instance = OwnedCgroup::instanceTag(env_.bot_socket);
    auto made = env_.cgroup_parent.empty()
                    ? OwnedCgroup::create(env_.paths, config_.name, instance)
                    : OwnedCgroup::createIn(env_.cgroup_parent, config_.name, instance);
    if (!made) {
      // Still supervised, only without the kernel backstop and its notifications: say so
      // loudly, once per start.
      journal("cgroup", proto::Level::kWarn,
              std::string("cannot own a memory cgroup for the bot (") +
                  (config_.kernel_limit_margin ? "no kernel backstop, " : "") +
                  "no threshold notifications: bounded poll): " + made.error().message,
              {{"error", made.error().code}});
      return okResult();
    }
    cgroup_.emplace(std::move(made.value()));
    applyKernelLimit();
  }
  spec.cgroup_procs_path = cgroup_->procsPath();
  return okResult();
}

void SupervisedBot::applyKernelLimit() {
  if (!cgroup_ || !config_.kernel_limit_margin) return;
  const auto margin = config_.kernel_limit_margin->resolve(policy_.limit);
  const auto hard = static_cast<std::uint64_t>(policy_.limit + margin);
  if (auto r = cgroup_->setLimit(hard, static_cast<std::uint64_t>(policy_.limit)); !r) {
    journal("cgroup", proto::Level::kWarn, "setting the kernel limit failed: " + r.error().message);
    return;
  }
  journal("cgroup", proto::Level::kInfo,
          "kernel limit " + config::formatBytes(static_cast<config::Bytes>(hard)) + " on " +
              cgroup_->dir() + " (memvisor limit " + config::formatBytes(policy_.limit) +
              " + margin " + config::formatBytes(margin) + ")",
          {{"cgroup", cgroup_->dir()}, {"kernel_limit", std::to_string(hard)}});
}

void SupervisedBot::onStarted(pid_t pid, bool owned) {
  ++generation_;
  const auto now = this->now();
  eventfd_offset_ = 0;
  // A bot that just started is loading and allocating: it is polled on the headroom schedule
  // for its first seconds, as after a kernel notification.
  started_at_ = now;
  woke_at_.reset();
  // Detection first: it finds the bot's group and whether it is the bot's own. A shared group's
  // usage and OOM kills describe other processes: the sampler leaves them alone.
  armDetection(pid);
  sampling::SamplerOptions so;
  so.cgroup = detection_shared_ ? sampling::CgroupLocation{} : detection_location_;
  so.root_pidfd = process_.pidfd();  // borrowed while the process runs
  sampler_.emplace(env_.paths, pid, so);
  policy::onBotStarted(pstate_, policy_, now);
  last_sample_.reset();
  last_metric_.reset();
  figures_.start();
  if (series_) {
    env_.metrics->set(*series_, Series::kUp, 1);
    if (started_once_) env_.metrics->add(*series_, Series::kRestarts, 1);
  }
  if (started_once_) countersChanged();
  started_once_ = true;
  if (taking_over_) {
    journal("takeover", proto::Level::kInfo,
            "took over pid " + std::to_string(pid) +
                ", which an earlier memvisord started; it keeps running" +
                (cgroup_ ? " in " + cgroup_->dir() : ""),
            {{"pid", std::to_string(pid)}});
  } else {
    journal(owned ? "spawn" : "attach", proto::Level::kInfo,
            std::string(owned ? "started" : "attached to") + " pid " + std::to_string(pid) +
                (cgroup_ ? " in " + cgroup_->dir() : ""),
            {{"pid", std::to_string(pid)}});
  }
  if (owned && config_.mode == config::Mode::kSpawn) {
    // So that a memvisord started after this one dies takes the bot over (bot_record.hpp).
    if (auto r = writeBotRecord(botRecordPath(env_.bot_socket, config_.name), env_.paths, pid);
        !r) {
      journal("takeover", proto::Level::kWarn,
              "cannot record the bot's pid; a memvisord restarted after a crash would start a "
              "second copy: " + r.error().message);
    }
  }
  scheduleSample(milliseconds(0));
}

void SupervisedBot::onExited(pid_t pid, const ExitInfo& info, milliseconds ran_for, bool expected) {
  if (config_.mode == config::Mode::kSpawn) {
    removeBotRecord(botRecordPath(env_.bot_socket, config_.name));
  }
  sample_timer_.cancel();
  connect_timer_.cancel();
  settle_timer_.cancel();
  awaiting_.reset();
  deferred_.reset();
  if (series_) {
    env_.metrics->set(*series_, Series::kUp, 0);  // the policy state is renewed when the next incarnation starts
    publishFigures(false);  // no process, no figures: the series go until the next sample
  }
  detection_.stop();
  pending_detection_.stop();
  figures_.stop();
  liveness_.detach();
  // The kernel's OOM kills show in the cgroup's counter, even after the process is gone.
  std::optional<sampling::CgroupLocation> loc;
  if (cgroup_) {
    loc = cgroup_->location();
  } else if (sampler_ && sampler_->cgroup()) {
    loc = *sampler_->cgroup();
  }
  sampler_.reset();  // it borrowed the pidfd, which is closed now
  if (loc && loc->hasMemory()) {
    if (auto mem = sampling::readCgroupMemory(*loc)) checkOom(mem->oom_kill_count, "at exit");
  }
  journal("exit", expected ? proto::Level::kInfo : proto::Level::kWarn,
          "pid " + std::to_string(pid) + " ended: " + info.describe() + " after " +
              config::formatDuration(ran_for) + (expected ? "" : " (unexpected)"),
          {{"pid", std::to_string(pid)},
           {"status", info.describe()},
           {"ran_for_ms", std::to_string(ran_for.count())},
           {"expected", expected ? "true" : "false"}});
}

bool SupervisedBot::requestShutdown(milliseconds deadline, const std::string& reason) {
  if (!connected()) return false;
  proto::Shutdown req;
  req.deadline_ms = std::max<std::int64_t>(1, deadline.count());
  req.reason = reason;
  journal("shutdown", proto::Level::kInfo,
          "asked the bot to shut down within " + config::formatDuration(deadline) + ": " + reason);
  session_->request(req, deadline, [](Result<proto::Message>) {
    // The process exit (or the stop signal after the deadline) is what counts.
  });
  return true;
}

// ---- detection and sampling -------------------------------------------------------------

void SupervisedBot::wake(const detection::Event& event) {
  if (!process_.running()) return;
  (void)event;
  const auto now = this->now();
  woke_at_ = now;
  if (sampler_) sampler_->refreshSoon();
  if (last_sample_at_ && now - *last_sample_at_ < kMinSampleSpacing) {
    scheduleSample(
        std::chrono::duration_cast<milliseconds>(kMinSampleSpacing - (now - *last_sample_at_)));
    return;
  }
  ++kernel_wakeups_;
  scheduleSample(milliseconds(0));
}

void SupervisedBot::scheduleSample(milliseconds delay) {
  // Long waits end on a 10 ms grid (never later than asked): idle bots' samples fall due
  // together and share one wake-up of the loop instead of one each.
  if (delay >= kAlignAbove) {
    const auto due = Clock::now() + delay;  // the timer's clock, not the injected one
    const auto since = std::chrono::duration_cast<milliseconds>(due.time_since_epoch());
    const milliseconds grid = delay >= kCoarseAlignAbove ? kCoarseAlignGrid : kAlignGrid;
    sample_timer_.expires_at(Clock::time_point(since - since % grid));
  } else {
    sample_timer_.expires_after(delay);
  }
  sample_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
        if (ec || alive.expired()) return;
        sampleNow();
      });
}

std::optional<config::Bytes> SupervisedBot::metricOf(const sampling::BotSample& s) const {
  auto b = [](std::uint64_t v) { return static_cast<config::Bytes>(v); };
  switch (policy_.metric) {
    case config::Metric::kRss:
      return b(s.rss_bytes);
    case config::Metric::kPss:
      return s.pss_bytes ? b(*s.pss_bytes) : b(s.rss_bytes);
    case config::Metric::kWorkingSet:
      return s.working_set_bytes ? b(*s.working_set_bytes) : b(s.rss_bytes);
    case config::Metric::kCgroup:
      return s.cgroup_usage_bytes ? b(*s.cgroup_usage_bytes) : b(s.rss_bytes);
  }
  return b(s.rss_bytes);
}

void SupervisedBot::sampleNow() {
  if (!sampler_ || !process_.running()) return;
  const auto now = this->now();
  // Armed v1 thresholds sit at every decision figure (armDetection): the kernel announces the
  // crossings, so neither the headroom schedule nor a 2 s refresh of the slow figures is
  // needed (with a thousand idle bots that refresh was most of memvisord's CPU).
  //
  // Not in a bot's first seconds (it is loading), nor right after a kernel notification, nor
  // while thresholds are being re-registered: an eventfd that fired a little ahead of the
  // policy's figure (its shift by the measured offset has aged) will not fire again for that
  // crossing, so the headroom schedule takes the bot across it, and the re-arm with the fresh
  // offset puts the thresholds right again.
  const bool kernel_watches = detection_.v1 && detection_.v1->armed() &&
                              !pending_detection_.v1 &&
                              now >= std::max(started_at_, woke_at_.value_or(started_at_)) +
                                         kPollAfterWake;
  sampler_->setSlowInterval(kernel_watches ? kKernelWatchedSlowInterval
                            : last_delay_ < kNearDecision ? kSlowInterval
                                                          : kFarSlowInterval);
  auto r = sampler_->sample(now);
  last_sample_at_ = now;
  // Files opened by pid (a refresh of the tree, status, smaps): if the bot died meanwhile, the
  // pid may already be another process's, and those figures would be a stranger's. The pidfd
  // says; the exit handler takes over. Between refreshes only kept fds are read, which are
  // bound to the processes they were opened on.
  if ((!r || r->slow_fresh) && process_.exitPending()) return;
  if (!r) {
    if (r.error().code == "gone") return;  // the exit handler takes it from here
    if (r.error().message != last_sample_error_) {
      last_sample_error_ = r.error().message;
      journal("sample", proto::Level::kWarn, "sampling failed: " + r.error().message,
              {{"error", r.error().code}});
    }
    scheduleSample(policy_.poll_max);
    return;
  }
  last_sample_error_.clear();
  if (r->cgroup) checkOom(r->oom_kill_count, "while running");
  const auto metric = metricOf(*r);
  last_sample_ = std::move(r.value());
  last_metric_ = metric;
  if (metric) {
    figures_.onSample(policy_.metric, policy_.limit, *metric,
                      static_cast<config::Bytes>(last_sample_->rss_bytes));
  }
  if (series_) publishFigures(true);
  ++samples_;
  // Not while a re-arm is still being registered: it would only be superseded.
  if (metric && detection_.v1 && detection_.v1->armed() && !pending_detection_.v1 &&
      last_sample_->cgroup_usage_bytes) {
    const config::Bytes offset =
        *metric - static_cast<config::Bytes>(*last_sample_->cgroup_usage_bytes);
    if (std::abs(offset - eventfd_offset_) >= kEventfdOffsetSlack) {
      eventfd_offset_ = offset;
      armDetection({});  // the line is journalled again only if its wording changes
    }
  }
  if (metric) {
    if (!peak_metric_ || *metric > *peak_metric_) peak_metric_ = metric;
    const auto decision = policy::step(pstate_, policy::Sample{*metric}, policy_, now);
    journalNotes(decision.notes);
    for (const auto& intent : decision.actions) execute(intent);
  }
  if (!process_.running()) return;
  auto delay = policy::nextSample(pstate_, policy_, now, kernel_watches).delay;
  // A kernel threshold fires when the group's usage crosses, which runs a little ahead of
  // or behind the policy's figure (statm's counters lag by up to a batch of pages, the
  // shift by the measured offset is as old as its last re-arm). A wake that finds the figure
  // just short of the threshold samples again every kMinSampleSpacing for one poll.min, so
  // the crossing it announced is acted on within milliseconds, not a poll.min later.
  if (woke_at_ && now - *woke_at_ < policy_.poll_min && delay > kMinSampleSpacing) {
    delay = kMinSampleSpacing;
  }
  // The first sample comes right after exec, before the dynamic loader and the runtime have
  // mapped much (128 KiB for the reference bot): while the bot loads, no figure stays that
  // stale for a whole headroom interval.
  if (now < started_at_ + kLoading && delay > kLoadingSampleEvery) delay = kLoadingSampleEvery;
  last_delay_ = delay;
  scheduleSample(delay);
}

void SupervisedBot::publishLimit() {
  env_.metrics->set(*series_, Series::kLimit, static_cast<double>(policy_.limit));
  const auto at = policy::thresholdBytes(policy_);
  std::vector<std::pair<std::string, double>> by_action;
  for (std::size_t i = 0; i < at.size() && i < policy_.thresholds.size(); ++i) {
    by_action.emplace_back(config::toString(policy_.thresholds[i].action),
                           static_cast<double>(at[i]));
  }
  env_.metrics->thresholds(config_.name, by_action);
}

void SupervisedBot::publishFigures(bool running) {
  using F = Metrics::Figure;
  const sampling::BotSample* s = running && last_sample_ ? &*last_sample_ : nullptr;
  auto value = [](std::optional<std::uint64_t> v) -> std::optional<double> {
    if (!v) return std::nullopt;
    return static_cast<double>(*v);
  };
  const std::array<std::optional<double>, 4> figures{
      s ? std::optional<double>(static_cast<double>(s->rss_bytes)) : std::nullopt,
      s ? value(s->pss_bytes) : std::nullopt, s ? value(s->working_set_bytes) : std::nullopt,
      s ? value(s->cgroup_usage_bytes) : std::nullopt};
  constexpr std::array<F, 4> kinds{F::kRss, F::kPss, F::kWorkingSet, F::kCgroup};
  for (std::size_t i = 0; i < kinds.size(); ++i) env_.metrics->figure(*series_, kinds[i], figures[i]);
}

void SupervisedBot::checkOom(std::uint64_t count, const std::string& when) {
  if (!oom_baseline_ || count < *oom_baseline_) {
    oom_baseline_ = count;
    return;
  }
  if (count == *oom_baseline_) return;
  const auto delta = static_cast<std::int64_t>(count - *oom_baseline_);
  oom_baseline_ = count;
  oom_kills_ += delta;
  if (series_) env_.metrics->add(*series_, Series::kOomKills, static_cast<double>(delta));
  countersChanged();
  journal("oom_kill", proto::Level::kError,
          "the kernel OOM-killed " + std::to_string(delta) +
              " process(es) in the bot's cgroup (seen " + when + ")",
          {{"count", std::to_string(delta)}, {"oom_kills_total", std::to_string(oom_kills_)}});
}

// ---- control and config ------------------------------------------------------------------

void SupervisedBot::setLimit(config::Bytes limit) {
  const config::Bytes before = policy_.limit;
  policy_.limit = limit;
  runtime_limit_ = true;
  if (series_) publishLimit();
  journal("config", proto::Level::kInfo,
          "limit set at runtime to " + config::formatBytes(limit) + " (was " +
              config::formatBytes(before) + ")",
          {{"limit", std::to_string(limit)}, {"previous", std::to_string(before)}});
  applyKernelLimit();
  armDetection({});
  if (process_.running()) scheduleSample(milliseconds(0));
}

void SupervisedBot::applyConfig(const config::BotConfig& config) {
  // A reload makes the file the truth again: a runtime limit ends here (PROTOCOL.md 7.5).
  config_ = config;
  policy_ = config_.policy;
  runtime_limit_ = false;
  configureFigures();
  if (series_) publishLimit();
  // Threshold lists may have changed shape: a fresh state, keeping the start-up time.
  pstate_ = policy::makeState(policy_, pstate_.started_at);
  process_.setOptions(processOptions());
  applyKernelLimit();
  armDetection({});
  if (process_.running()) scheduleSample(milliseconds(0));
}

proto::BotStatus SupervisedBot::status() const {
  proto::BotStatus s;
  s.name = config_.name;
  s.state = toString(process_.state());
  s.memory_state = last_metric_ ? policy::memoryState(policy_, *last_metric_) : "unknown";
  s.pid = process_.pid();
  s.uptime_ms = process_.uptime().count();
  s.connected = connected();
  s.metric = config::toString(policy_.metric);
  s.limit_bytes = policy_.limit;
  s.limit_source = runtime_limit_ ? "runtime" : "config";
  if (last_sample_ && process_.running()) {
    auto b = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
    s.rss_bytes = b(last_sample_->rss_bytes);
    if (last_sample_->pss_bytes) s.pss_bytes = b(*last_sample_->pss_bytes);
    if (last_sample_->working_set_bytes) s.working_set_bytes = b(*last_sample_->working_set_bytes);
    if (last_sample_->cgroup_usage_bytes)
      s.cgroup_usage_bytes = b(*last_sample_->cgroup_usage_bytes);
    s.metric_bytes = last_metric_;
  }
  s.last_action = last_action_;
  s.restarts = restarts_before_ + process_.restarts();
  s.oom_kills = oom_kills_;
  s.thresholds_bytes = policy::thresholdBytes(policy_);
  if (process_.running()) {
    s.detection = detectionBound();
    s.detection_bound_ms = std::chrono::duration_cast<milliseconds>(policy_.poll_min).count();
    if (last_sample_ && last_sample_->pss_at) {
      s.pss_age_ms = std::max<std::int64_t>(
          0, std::chrono::duration_cast<milliseconds>(now() - *last_sample_->pss_at).count());
    }
  }
  if (process_.running()) s.bot_stats = figures_.status();
  s.liveness = liveness_.name();
  const auto& ls = liveness_.state();
  if (!ls.reason.empty()) s.liveness_reason = ls.reason;
  if (ls.last_rtt_ms) s.ping_ms = *ls.last_rtt_ms;
  s.memory_alert = figures_.alertOn();
  return s;
}

void SupervisedBot::journal(const std::string& kind, proto::Level level, const std::string& message,
                            std::map<std::string, std::string> fields) {
  proto::JournalEntry e;
  e.ts_ms = env_.wall_ms();
  e.bot = config_.name;
  e.kind = kind;
  e.level = level;
  e.message = message;
  e.fields = std::move(fields);
  env_.journal.record(std::move(e));
}

void SupervisedBot::journalNotes(const std::vector<policy::Note>& notes) {
  for (const auto& n : notes) {
    auto e = toJournalEntry(n, config_.name, env_.wall_ms());
    if (!e.fields.count("pid") && process_.running())
      e.fields["pid"] = std::to_string(process_.pid());
    env_.journal.record(std::move(e));
  }
}

}  // namespace memvisor::daemon
