// One bot's supervision loop: sample -> policy -> act -> feed back -> journal.
#include "memvisor/daemon/supervised_bot.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdlib>
#include <charconv>
#include <csignal>
#include <cstring>
#include <sstream>

#include "memvisor/config/units.hpp"
#include "memvisor/daemon/bot_record.hpp"
#include "memvisor/daemon/peer_auth.hpp"
#include "memvisor/daemon/policy_wire.hpp"
#include "memvisor/policy/heap_watch.hpp"
#include "memvisor/policy/settle.hpp"
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
// Sample timers further out than kAlignAbove are aligned to kAlignGrid (see scheduleSample).
constexpr milliseconds kAlignAbove{100};
constexpr milliseconds kAlignGrid{10};
// Re-register the v1 thresholds when the policy's figure and the group's usage drift apart by
// this much (the kernel fires 0.2-0.5 MiB past a threshold anyway).
constexpr config::Bytes kEventfdOffsetSlack = 512 * 1024;

std::string ms(double v) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(1);
  os << v;
  return os.str();
}

policy::Outcome outcomeOf(const Error& e) {
  if (e.code == proto::errc::kTimeout) return policy::Outcome::kTimeout;
  if (e.code == proto::errc::kNotConnected) return policy::Outcome::kNotConnected;
  return policy::Outcome::kFailed;
}

// A byte count from journal fields, formatted ("4.0 MiB"); "?" when absent.
std::string bytesField(const std::map<std::string, std::string>& f, const std::string& key) {
  auto it = f.find(key);
  if (it == f.end()) return "?";
  std::int64_t v = 0;
  std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  return config::formatBytes(v);
}

}  // namespace

SupervisedBot::SupervisedBot(BotEnv& env, config::BotConfig config)
    : env_(env),
      config_(std::move(config)),
      policy_(config_.policy),
      process_(env.io, env.reaper, env.signaller, processOptions(), processHooks()),
      pstate_(policy::makeState(policy_, Clock::now())),
      sample_timer_(env.io),
      connect_timer_(env.io),
      settle_timer_(env.io),
      figure_series_(env.metrics ? &env.metrics->figures() : nullptr),
      figures_(env.io, config_.name, figure_series_,
               [this](const std::string& kind, proto::Level level, const std::string& message,
                      std::map<std::string, std::string> fields) {
                 journal(kind, level, message, std::move(fields));
               }),
      liveness_(env.io, LivenessDriver::Hooks{
                            [this](const policy::LivenessVerdict& v) { onLivenessChange(v); },
                            {},
                            [this](double rtt_ms) {
                              if (figure_series_) figure_series_->pingRtt(config_.name, rtt_ms / 1000.0);
                            }}) {
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
        series_->restarts->Increment(static_cast<double>(c.restarts));
        series_->oom_kills->Increment(static_cast<double>(c.oom_kills));
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
  o.spawn.env = mergeEnvironment(env);
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
    if (series_) series_->fatal->Set(to == ProcessState::kFatal ? 1 : 0);
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
  SpawnSpec unused;
  (void)prepareSpawn(unused);  // the bot's own cgroup, when it has one, is ours again
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
  if (!cgroup_) {
    auto made = env_.cgroup_parent.empty()
                    ? OwnedCgroup::create(env_.paths, config_.name)
                    : OwnedCgroup::createIn(env_.cgroup_parent, config_.name);
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
    if (auto r = applyKernelLimit(); !r) {
      journal("cgroup", proto::Level::kWarn,
              "setting the kernel limit failed: " + r.error().message);
    }
  }
  spec.cgroup_procs_path = cgroup_->procsPath();
  return okResult();
}

Result<void> SupervisedBot::applyKernelLimit() {
  if (!cgroup_ || !config_.kernel_limit_margin) return okResult();
  const auto margin = config_.kernel_limit_margin->resolve(policy_.limit);
  const auto hard = static_cast<std::uint64_t>(policy_.limit + margin);
  auto r = cgroup_->setLimit(hard, static_cast<std::uint64_t>(policy_.limit));
  if (r.ok()) {
    journal("cgroup", proto::Level::kInfo,
            "kernel limit " + config::formatBytes(static_cast<config::Bytes>(hard)) + " on " +
                cgroup_->dir() + " (memvisor limit " + config::formatBytes(policy_.limit) +
                " + margin " + config::formatBytes(margin) + ")",
            {{"cgroup", cgroup_->dir()}, {"kernel_limit", std::to_string(hard)}});
  }
  return r;
}

void SupervisedBot::onStarted(pid_t pid, bool owned) {
  ++generation_;
  const auto now = Clock::now();
  eventfd_offset_ = 0;
  // Detection first: it finds the bot's group and whether it is the bot's own. A shared group's
  // usage and OOM kills describe other processes: the sampler leaves them alone.
  armDetection(pid);
  sampling::SamplerOptions so;
  so.cgroup = detection_shared_ ? sampling::CgroupLocation{} : detection_location_;
  so.root_pidfd = process_.pidfd();  // borrowed while the process runs: no statm fd kept
  sampler_.emplace(env_.paths, pid, so);
  policy::onBotStarted(pstate_, policy_, now);
  last_sample_.reset();
  last_metric_.reset();
  figures_.start();
  if (series_) {
    series_->up->Set(1);
    if (started_once_) series_->restarts->Increment();
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
    series_->up->Set(0);  // the policy state is renewed when the next incarnation starts
    publishFigures(false);  // no process, no figures: the series go until the next sample
  }
  detection_.stop();
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

void SupervisedBot::armDetection(std::optional<pid_t> started) {
  detection_.stop();
  if (!started && !process_.running()) return;
  const pid_t pid = started ? *started : process_.pid();
  sampling::CgroupLocation loc;
  if (cgroup_) {
    loc = cgroup_->location();
  } else if (auto r = sampling::resolveCgroup(env_.paths, pid)) {
    loc = *r;
  }
  // The kernel compares the group's usage; the policy its own figure (RSS by default, which
  // also counts library pages charged to other groups). Thresholds are shifted by the last
  // measured difference, so the eventfd fires when the policy's figure crosses.
  std::vector<std::uint64_t> thresholds;
  auto add = [&](config::Bytes b) {
    const config::Bytes shifted = b - eventfd_offset_;
    if (b > 0) thresholds.push_back(static_cast<std::uint64_t>(std::max<config::Bytes>(shifted, 4096)));
  };
  for (config::Bytes b : policy::thresholdBytes(policy_)) add(b);
  if (policy_.hard_ceiling) add(policy_.hard_ceiling->resolve(policy_.limit));
  add(policy_.limit);
  const auto probe =
      detection::probeDetection(env_.paths, loc, {pid, ::getpid()});
  const auto plan = detection::planDetection(probe, thresholds);
  detection_location_ = loc;
  detection_shared_ = plan.shared_cgroup;
  detection_ = detection::startDetection(
      env_.io, plan, [this, alive = std::weak_ptr<bool>(alive_)](const detection::Event& e) {
        if (!alive.expired()) wake(e);
      });
  detection_path_ = detection_.v1          ? "eventfd"
                    : detection_.v2_events ? "memory.events"
                    : detection_.psi       ? "psi"
                                           : "poll";
  const std::string bound = detectionBound();
  std::string reason = detection_.reason;
  if (plan.shared_cgroup) reason = plan.reason;
  reason += "; bound: " + bound + " (next sample when the bot could reach the next decision " +
            "figure at " + config::formatBytes(policy_.max_growth) + "/s, within " +
            config::formatDuration(policy_.poll_min) + ".." +
            config::formatDuration(policy_.poll_max) + ")";
  if (reason != detection_reason_) {
    detection_reason_ = reason;
    std::map<std::string, std::string> fields{
        {"cgroup", loc.describe()},
        {"path", detection_path_},
        {"bound", bound},
        {"bound_ms", std::to_string(policy_.poll_min.count())},
        {"shared_cgroup", plan.shared_cgroup ? "true" : "false"},
        {"event_driven", detection_path_ == "poll" ? "false" : "true"}};
    for (std::size_t i = 0; i < detection_.failures.size(); ++i) {
      fields["failure" + std::to_string(i)] = detection_.failures[i].message;
    }
    journal("detection", proto::Level::kInfo, reason, fields);
  }
  if (env_.metrics) {
    env_.metrics->detection(config_.name, detection_path_,
                            std::chrono::duration<double>(policy_.poll_min).count());
  }
}

std::string SupervisedBot::detectionBound() const {
  // eventfd: the kernel wakes memvisord at the crossing of its own group's usage; the poll
  // bound still holds for the figure the policy uses.
  if (detection_path_ == "eventfd") return "eventfd";
  std::string bound = "poll \u2264 " + config::formatDuration(policy_.poll_min);
  if (detection_path_ != "poll") bound = detection_path_ + ", " + bound;
  return bound;
}

void SupervisedBot::wake(const detection::Event& event) {
  if (!process_.running()) return;
  (void)event;
  const auto now = Clock::now();
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
    const auto due = Clock::now() + delay;
    const auto since = std::chrono::duration_cast<milliseconds>(due.time_since_epoch());
    sample_timer_.expires_at(Clock::time_point(since - since % kAlignGrid));
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
  const auto now = Clock::now();
  auto r = sampler_->sample(now);
  last_sample_at_ = now;
  // Read by pid: if the bot died meanwhile, its pid may already be another process's, and
  // these figures would be that stranger's. The pidfd says; the exit handler takes over.
  if (process_.exitPending()) return;
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
  if (metric && detection_.v1 && last_sample_->cgroup_usage_bytes) {
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
  if (process_.running()) scheduleSample(policy::nextSample(pstate_, policy_, now).delay);
}

void SupervisedBot::publishLimit() {
  series_->limit->Set(static_cast<double>(policy_.limit));
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
  auto& m = *env_.metrics;
  m.figure(config_.name, F::kRss, s ? std::optional<double>(static_cast<double>(s->rss_bytes))
                                    : std::nullopt);
  m.figure(config_.name, F::kPss, s ? value(s->pss_bytes) : std::nullopt);
  m.figure(config_.name, F::kWorkingSet, s ? value(s->working_set_bytes) : std::nullopt);
  m.figure(config_.name, F::kCgroup, s ? value(s->cgroup_usage_bytes) : std::nullopt);
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
  if (series_) series_->oom_kills->Increment(static_cast<double>(delta));
  countersChanged();
  journal("oom_kill", proto::Level::kError,
          "the kernel OOM-killed " + std::to_string(delta) +
              " process(es) in the bot's cgroup (seen " + when + ")",
          {{"count", std::to_string(delta)}, {"oom_kills_total", std::to_string(oom_kills_)}});
}

// ---- acting ------------------------------------------------------------------------------

// State of one settle: the action, the bot's reply and the samples since the action was sent.
struct PendingSettle {
  policy::Intent intent;
  policy::ActionResult result;
  double duration_ms = 0;
  proto::ActionResult reply;
  policy::Settle settle;
  std::chrono::steady_clock::time_point start;
  std::uint64_t gen = 0;
  bool replied = false;
  bool cancelled = false;  // no reply, or a failed one: finished without a settle
};

void SupervisedBot::execute(const policy::Intent& intent) {
  if (intent.action == config::ActionKind::kAlert) {
    journal("alert", proto::Level::kWarn, intent.reason, intent.fields);
    return;
  }
  if (intent.action == config::ActionKind::kRestart) {
    restartFor(intent);
    return;
  }
  if (!memvisor::actionInfo(intent.action).to_bot) return;
  if (!connected()) {
    if (!process_.running()) {
      finishAction(intent, {intent.action, policy::Outcome::kNotConnected, 0, "bot not running"}, 0,
                   std::nullopt);
      return;
    }
    // A bot that is starting (or reconnecting) gets the command's deadline to connect
    // before the command counts as failed.
    awaiting_ = intent;
    const std::uint64_t gen = generation_;
    connect_timer_.expires_after(intent.deadline);
    connect_timer_.async_wait(
        [this, alive = std::weak_ptr<bool>(alive_), gen](boost::system::error_code ec) {
          if (ec || alive.expired() || !awaiting_) return;
          auto waiting = std::move(*awaiting_);
          awaiting_.reset();
          if (gen != generation_) return;
          finishAction(waiting,
                       {waiting.action, policy::Outcome::kNotConnected, 0,
                        "bot not connected to the bot socket within the " +
                            config::formatDuration(waiting.deadline) + " deadline"},
                       0, std::nullopt);
        });
    return;
  }
  if (running_action_) {
    deferred_ = intent;  // sent when the operator's action is answered
    return;
  }
  proto::ActionRequest req;
  req.action = intent.action;
  req.urgency = toProto(intent.urgency);
  req.deadline_ms = std::max<std::int64_t>(1, intent.deadline.count());
  req.target_bytes = intent.target_bytes;
  req.headroom_bytes = intent.headroom_bytes;
  const auto t0 = Clock::now();
  const std::uint64_t gen = generation_;
  running_action_ = config::toString(intent.action);
  // memvisord's own "before", from a fresh sample (the last one may be a poll interval old);
  // from here on it samples the bot until the figure settles after the reply (startSettle).
  std::optional<config::Bytes> before = last_metric_;
  if (sampler_) {
    if (auto s = sampler_->sample(t0)) before = metricOf(*s);
  }
  std::shared_ptr<PendingSettle> pending = before ? startSettle(intent, *before) : nullptr;
  session_->request(
      req, intent.deadline,
      [this, alive = std::weak_ptr<bool>(alive_), intent, t0, gen, pending](Result<proto::Message> r) {
        if (alive.expired()) return;
        actionDone();
        const double took = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        policy::ActionResult res{intent.action, policy::Outcome::kOk, 0, ""};
        std::optional<proto::ActionResult> reply;
        if (!r) {
          res.outcome = outcomeOf(r.error());
          res.error = r.error().message;
        } else if (auto* ar = std::get_if<proto::ActionResult>(&r.value())) {
          reply = *ar;
          res.freed_bytes = ar->freed_bytes;
          if (!ar->ok) {
            res.outcome = policy::Outcome::kFailed;
            res.error = ar->error.empty() ? "bot reported failure" : ar->error;
          }
        } else {
          res.outcome = policy::Outcome::kFailed;
          res.error = "unexpected reply " + proto::typeName(r.value());
        }
        if (gen != generation_) {
          // The bot restarted meanwhile: the policy state is fresh; journal only.
          journal("action", proto::Level::kInfo,
                  std::string(config::toString(intent.action)) +
                      " answered after the bot restarted: " + policy::toString(res.outcome));
          return;
        }
        if (pending && reply && res.outcome == policy::Outcome::kOk) {
          // What the bot says it freed: the exact heap figure when it has one (1.1), else its
          // RSS drop. The settle loop finishes the action.
          pending->result = res;
          pending->duration_ms = took;
          pending->reply = *reply;
          pending->replied = true;
          pending->settle.replied(std::max<std::int64_t>(0, reply->heap_freed_bytes.value_or(reply->freed_bytes)),
                                  Clock::now());
          return;
        }
        if (pending) pending->cancelled = true;
        finishAction(intent, res, took, reply);
      });
}

std::shared_ptr<PendingSettle> SupervisedBot::startSettle(const policy::Intent& intent, config::Bytes before) {
  if (!sampler_) return nullptr;
  const auto now = Clock::now();
  auto p = std::make_shared<PendingSettle>(PendingSettle{intent, {}, 0, {}, policy::Settle(before, before, {}, now),
                                                         now, generation_, false, false});
  settleStep(p);
  return p;
}

void SupervisedBot::settleStep(std::shared_ptr<PendingSettle> p) {
  settle_timer_.expires_after(p->settle.rule().step);
  settle_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_), p](boost::system::error_code ec) {
    if (ec || alive.expired() || p->cancelled || p->gen != generation_ || !sampler_ || !process_.running()) return;
    const auto now = Clock::now();
    bool settled = true;
    if (auto s = sampler_->sample(now)) {
      if (auto m = metricOf(*s)) settled = p->settle.add(*m, now);
    }
    if (!p->replied || (!settled && !p->settle.done(now))) {
      settleStep(p);
      return;
    }
    // memvisord's own figure decides escalation and goes to the journal and the metrics; the
    // bot's figures stay beside it.
    auto intent = p->intent;
    intent.fields["bot_freed"] = std::to_string(p->reply.freed_bytes);
    if (p->reply.heap_freed_bytes) intent.fields["heap_freed"] = std::to_string(*p->reply.heap_freed_bytes);
    if (p->reply.target_met) intent.fields["target_met"] = *p->reply.target_met ? "true" : "false";
    intent.fields["before"] = std::to_string(p->settle.before());
    intent.fields["after"] = std::to_string(p->settle.lowest());
    intent.fields["settle_ms"] = ms(std::chrono::duration<double, std::milli>(now - p->start).count() - p->duration_ms);
    intent.fields["settle_samples"] = std::to_string(p->settle.samples());
    auto result = p->result;
    result.freed_bytes = p->settle.freed();
    finishAction(intent, result, p->duration_ms, p->reply);
  });
}

void SupervisedBot::restartFor(const policy::Intent& intent) {
  // Re-check right before the drastic step: the figure may have fallen meanwhile.
  const config::Bytes threshold = intent.threshold_bytes;
  if (sampler_ && process_.running() && threshold > 0) {
    if (auto s = sampler_->sample(Clock::now())) {
      if (auto m = metricOf(*s); m && *m < threshold) {
        const config::Bytes before = last_metric_.value_or(*m);
        journal("restart", proto::Level::kInfo,
                "restart cancelled: " + std::string(config::toString(policy_.metric)) +
                    " fell to " + config::formatBytes(*m) + ", below " +
                    config::formatBytes(threshold),
                intent.fields);
        last_metric_ = m;
        finishAction(intent, {intent.action, policy::Outcome::kOk, before - *m, ""}, 0,
                     std::nullopt);
        return;
      }
    }
  }
  if (!process_.canRestart()) {
    finishAction(intent,
                 {intent.action, policy::Outcome::kUnsupported, 0,
                  "memvisord did not start this bot and has no restart_command for it"},
                 0, std::nullopt);
    return;
  }
  auto fields = intent.fields;
  fields["pid"] = std::to_string(process_.pid());
  fields["trigger"] = policy::toString(intent.trigger);
  fields["reason"] = intent.reason;
  // Above the hard ceiling the kernel limit is close: skip the protocol's shutdown (whose
  // deadline a fast leak would outrun) and go straight to the stop signal, then SIGKILL.
  const bool uncooperative = intent.trigger == policy::Trigger::kHardCeiling;
  fields["stop"] = uncooperative ? "signal" : "shutdown";
  journal("restart", proto::Level::kWarn,
          std::string(uncooperative ? "restart without waiting for the bot: "
                                    : "graceful restart: ") +
              intent.reason,
          fields);
  last_action_ = proto::LastAction{"restart", true, 0, env_.wall_ms(), intent.reason};
  auto r = process_.restart(intent.reason, {},
                            uncooperative ? BotProcess::StopMode::kSignal
                                          : BotProcess::StopMode::kCooperative);
  if (!r) {
    finishAction(intent, {intent.action, policy::Outcome::kFailed, 0, r.error().message}, 0,
                 std::nullopt);
  }
  // Success is reported to the policy by onBotStarted when the new incarnation runs.
}

void SupervisedBot::finishAction(const policy::Intent& intent, policy::ActionResult result,
                                 double duration_ms,
                                 const std::optional<proto::ActionResult>& reply) {
  const bool ok = result.outcome == policy::Outcome::kOk;
  auto fields = intent.fields;
  fields["pid"] = std::to_string(process_.pid());
  fields["action"] = config::toString(intent.action);
  fields["trigger"] = policy::toString(intent.trigger);
  fields["urgency"] = policy::toString(intent.urgency);
  fields["result"] = policy::toString(result.outcome);
  fields["freed"] = std::to_string(result.freed_bytes);
  fields["duration_ms"] = ms(duration_ms);
  fields["reason"] = intent.reason;
  if (reply && reply->late) fields["late"] = "true";
  if (!ok) fields["error"] = result.error;
  std::string message =
      std::string(config::toString(intent.action)) +
      (ok ? " freed " + config::formatBytes(result.freed_bytes) + " in " + ms(duration_ms) + " ms"
          : " " + std::string(policy::toString(result.outcome)) + ": " + result.error);
  if (ok) {
    if (auto it = intent.fields.find("after"); it != intent.fields.end()) {
      message += " (memvisord's samples; the bot measured " + bytesField(intent.fields, "bot_freed");
      if (intent.fields.count("heap_freed")) message += ", heap " + bytesField(intent.fields, "heap_freed");
      message += ")";
    }
    if (intent.target_bytes) {
      message += "; target " + config::formatBytes(*intent.target_bytes) +
                 (result.freed_bytes >= *intent.target_bytes ? " met" : " not met");
    }
  }
  journal("action", ok ? proto::Level::kInfo : proto::Level::kWarn, message, fields);
  last_action_ = proto::LastAction{config::toString(intent.action), ok, result.freed_bytes,
                                   env_.wall_ms(), intent.reason};
  ++actions_;
  if (env_.metrics) {
    env_.metrics->action(config_.name, config::toString(intent.action),
                         policy::toString(result.outcome), result.freed_bytes);
  }
  countersChanged();
  journalNotes(policy::onActionResult(pstate_, result, policy_, Clock::now()));
  // No stale slow figure next to a fresh RSS: PSS, status and cgroup figures are re-read.
  if (sampler_) {
    sampler_->requestPss();
    sampler_->requestSlow();
  }
  // See the effect, and let an escalation proceed without waiting a whole interval.
  if (process_.running()) scheduleSample(milliseconds(0));
}

void SupervisedBot::runAction(proto::Action action, std::function<void(proto::BotOutcome)> done) {
  proto::BotOutcome out;
  out.bot = config_.name;
  if (!connected()) {
    out.ok = false;
    out.code = proto::errc::kNotConnected;
    out.message = process_.running() ? "bot is not connected to the bot socket"
                                     : std::string("bot is ") + toString(process_.state());
    done(out);
    return;
  }
  if (running_action_) {
    out.ok = false;
    out.code = proto::errc::kBusy;
    out.message = *running_action_ + " is already running on this bot";
    done(out);
    return;
  }
  running_action_ = proto::toString(action);
  proto::ActionRequest req;
  req.action = action;
  req.urgency = proto::Urgency::kNormal;
  const auto deadline = policy_.deadlines.forAction(action);
  req.deadline_ms = std::max<std::int64_t>(1, deadline.count());
  if (last_metric_) req.headroom_bytes = policy::headroomBelowCeiling(policy_, *last_metric_);
  const auto t0 = Clock::now();
  session_->request(
      req, deadline,
      [this, alive = std::weak_ptr<bool>(alive_), action, t0, out,
       done = std::move(done)](Result<proto::Message> r) mutable {
        out.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (!r) {
          out.ok = false;
          out.code = r.error().code;
          out.message = r.error().message;
        } else if (auto* ar = std::get_if<proto::ActionResult>(&r.value())) {
          out.ok = ar->ok;
          out.freed_bytes = ar->freed_bytes;
          out.code = ar->ok ? "" : proto::errc::kActionFailed;
          out.message = ar->ok ? "" : ar->error;
        }
        if (!alive.expired()) {
          actionDone();
          journal("action", out.ok ? proto::Level::kInfo : proto::Level::kWarn,
                  std::string(proto::toString(action)) + " (operator) " +
                      (out.ok ? "freed " + config::formatBytes(out.freed_bytes)
                              : out.code + ": " + out.message),
                  {{"action", proto::toString(action)},
                   {"trigger", "operator"},
                   {"result", out.ok ? "ok" : out.code},
                   {"freed", std::to_string(out.freed_bytes)},
                   {"duration_ms", ms(out.duration_ms)}});
          last_action_ = proto::LastAction{proto::toString(action), out.ok, out.freed_bytes,
                                           env_.wall_ms(), "operator"};
          if (env_.metrics) {
            env_.metrics->action(config_.name, proto::toString(action), out.ok ? "ok" : out.code,
                                 out.freed_bytes);
          }
          countersChanged();
        }
        done(out);
      });
}

void SupervisedBot::actionDone() {
  running_action_.reset();
  if (!deferred_) return;
  // After the current callback has fed its result to the policy.
  asio::post(env_.io, [this, alive = std::weak_ptr<bool>(alive_), gen = generation_] {
    if (alive.expired() || !deferred_ || running_action_) return;
    auto intent = std::move(*deferred_);
    deferred_.reset();
    if (gen == generation_) execute(intent);
  });
}

// ---- sessions ----------------------------------------------------------------------------

bool SupervisedBot::claims(const PeerCred& peer, const proto::Hello& hello) {
  if (process_.running()) return isSameOrDescendant(env_.paths, peer.pid, process_.pid());
  if (config_.mode != config::Mode::kAttach) return false;
  if (config_.attach.by == config::AttachBy::kConnect) {
    if (hello.name != config_.name) return false;
    const uid_t allowed = config_.attach.uid ? *config_.attach.uid : ::geteuid();
    if (peer.uid != allowed) return false;
    return process_.adopt(peer.pid, "connected to the bot socket").ok();
  }
  if (auto pid = discover()) {
    if (process_.adopt(*pid, "found at connection").ok()) {
      return isSameOrDescendant(env_.paths, peer.pid, process_.pid());
    }
  }
  return false;
}

Result<void> SupervisedBot::bind(const std::shared_ptr<BotSession>& session) {
  if (session_ && session_ != session && session_->open()) {
    // The old peer learns why it is cut off (it may be a stale half of its own reconnect).
    session_->closeWithError(proto::errc::kReplaced,
                             "replaced by a new connection for bot \"" + config_.name +
                                 "\" from pid " + std::to_string(session->peer().pid));
  }
  session_ = session;
  if (series_) series_->connected->Set(1);
  liveness_.attach(session);
  std::string caps;
  for (const auto& c : session->hello().capabilities) caps += (caps.empty() ? "" : ",") + c;
  journal("session", proto::Level::kInfo,
          "bot connected from pid " + std::to_string(session->peer().pid),
          {{"peer_pid", std::to_string(session->peer().pid)},
           {"peer_uid", std::to_string(session->peer().uid)},
           {"capabilities", caps}});
  if (awaiting_) {
    // After this returns the session sends its welcome; the command must follow it.
    connect_timer_.cancel();
    asio::post(env_.io, [this, alive = std::weak_ptr<bool>(alive_), gen = generation_] {
      if (alive.expired() || !awaiting_ || gen != generation_) return;
      auto waiting = std::move(*awaiting_);
      awaiting_.reset();
      execute(waiting);
    });
  }
  return okResult();
}

void SupervisedBot::onSessionClosed(const std::shared_ptr<BotSession>& session,
                                    const std::string& reason) {
  if (session_ != session) return;
  session_.reset();
  if (series_) series_->connected->Set(0);
  const bool was_hung = liveness_.state().hung();
  liveness_.detach();
  if (figure_series_) {
    figure_series_->forgetPing(config_.name);
    if (was_hung) figure_series_->hung(config_.name, false);
  }
  journal("session", proto::Level::kInfo, "bot disconnected: " + reason);
}

void SupervisedBot::onStats(const proto::Stats& stats) {
  last_stats_ = stats;
  // V8's heap is a limit of its own (protocol 1.1 heap_limit_bytes): alert as the seed does.
  if (auto n = policy::watchHeap(heap_watch_, stats.mem.heap_used_bytes, stats.mem.heap_limit_bytes)) {
    journalNotes({*n});
  }
  figures_.onStats(stats);
  if (stats.event_loop_lag_ms) liveness_.onLag(*stats.event_loop_lag_ms);
}

void SupervisedBot::onLivenessChange(const policy::LivenessVerdict& v) {
  const bool hung = v.change == policy::LivenessChange::kHung;
  if (figure_series_) figure_series_->hung(config_.name, hung);
  auto fields = v.fields;
  fields["state"] = hung ? "hung" : "ok";
  fields["pid"] = std::to_string(process_.pid());
  if (!hung) {
    journal("liveness", proto::Level::kInfo, "bot answers again, no longer hung: " + v.reason,
            fields);
    return;
  }
  const auto& lc = config_.liveness;
  const bool restart = lc.on_hung == config::OnHung::kRestart && process_.canRestart();
  fields["on_hung"] = restart ? "restart" : "journal";
  journal("liveness", proto::Level::kError,
          "bot hung: " + v.reason +
              (restart ? "; restarting it"
                       : lc.on_hung == config::OnHung::kRestart
                             ? "; memvisord cannot restart this bot (journal only)"
                             : "; journal only (liveness.on_hung: journal)"),
          fields);
  if (!restart || !process_.running()) return;
  const std::string reason = "hung: " + v.reason;
  last_action_ = proto::LastAction{"restart", true, 0, env_.wall_ms(), reason};
  ++actions_;
  if (env_.metrics) env_.metrics->action(config_.name, "restart", "ok", 0);
  countersChanged();
  // The normal graceful path: a hung bot will not answer `shutdown`, so its deadline passes
  // and the stop signal, then SIGKILL after stop_timeout, end it.
  if (auto r = process_.restart(reason, {}, BotProcess::StopMode::kCooperative); !r) {
    journal("restart", proto::Level::kWarn, "restart of the hung bot failed: " + r.error().message,
            {{"error", r.error().code}});
  }
}

void SupervisedBot::onEvent(const proto::Event& event) {
  journal("bot_event", event.level, event.message,
          std::map<std::string, std::string>(event.fields.begin(), event.fields.end()));
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
  if (cgroup_) (void)applyKernelLimit();
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
  if (cgroup_) (void)applyKernelLimit();
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
          0, std::chrono::duration_cast<milliseconds>(Clock::now() - *last_sample_->pss_at).count());
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
