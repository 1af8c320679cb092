// SupervisedBot: one bot under memvisord. Owns its process lifecycle, its sampler, its
// kernel notifications, its policy state and its bot session; samples on the adaptive
// interval (or at once on a kernel event), feeds the policy, carries out its decisions over
// the session (or restarts), feeds the results back, and journals every step.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "memvisor/config/config.hpp"
#include "memvisor/daemon/bot_figures.hpp"
#include "memvisor/daemon/bot_process.hpp"
#include "memvisor/daemon/bot_session.hpp"
#include "memvisor/daemon/child_reaper.hpp"
#include "memvisor/daemon/clock.hpp"
#include "memvisor/daemon/liveness_driver.hpp"
#include "memvisor/daemon/metrics.hpp"
#include "memvisor/daemon/owned_cgroup.hpp"
#include "memvisor/daemon/saved_counters.hpp"
#include "memvisor/daemon/signaller.hpp"
#include "memvisor/detection/plan.hpp"
#include "memvisor/detection/threshold_registrar.hpp"
#include "memvisor/detection/v1_thresholds.hpp"
#include "memvisor/journal/journal.hpp"
#include "memvisor/policy/policy.hpp"
#include "memvisor/policy/heap_watch.hpp"
#include "memvisor/proto/messages.hpp"
#include "memvisor/sampling/sampler.hpp"
#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::daemon {

// What every bot shares: the loop, the journal, the seams.
struct BotEnv {
  boost::asio::io_context& io;
  journal::Journal& journal;
  Signaller& signaller;
  ChildReaper& reaper;
  sampling::SysPaths paths;
  std::string bot_socket;                 // passed to spawned bots as MEMVISOR_SOCKET
  std::function<std::int64_t()> wall_ms;  // unix epoch ms for journal entries
  // Use this existing cgroup for bots that own one instead of creating
  // <memvisord's cgroup>/memvisor-<bot> (tests create their own). Empty = create.
  std::string cgroup_parent;
  Metrics* metrics = nullptr;  // null: no metrics endpoint
  // Counters a previous memvisord saved (daemon.state_file): a bot found there carries on
  // from them. Null or absent: from 0.
  const SavedCounters* saved = nullptr;
  // Called after a counter changed (an action, a restart, an OOM kill): time to save.
  std::function<void()> counters_changed;
  // The bots' clock (clock.hpp): tests drive it; memvisord's is steady_clock.
  SteadyNow now = steadyClock();
  // Writes v1 threshold registrations off the loop (memvisord's; null: inline, as in tests).
  detection::ThresholdRegistrar* registrar = nullptr;
};

class SupervisedBot {
 public:
  using Clock = std::chrono::steady_clock;
  SupervisedBot(BotEnv& env, config::BotConfig config);
  ~SupervisedBot();
  SupervisedBot(const SupervisedBot&) = delete;
  SupervisedBot& operator=(const SupervisedBot&) = delete;

  const std::string& name() const { return config_.name; }
  const config::BotConfig& config() const { return config_; }

  void start(const std::string& reason);
  void stop(const std::string& reason, std::function<void()> done);
  Result<void> restart(const std::string& reason, std::function<void()> done);
  // SIGKILL to what memvisord started (a second SIGTERM during shutdown).
  void killNow() { process_.killNow(); }
  // A reload: new policy and lifecycle options, and the file's limit replaces a runtime one;
  // a changed command takes effect at the next start.
  void applyConfig(const config::BotConfig& config);

  // Session binding: does this connection speak for this bot? `adopt` in attach-by-connect.
  bool claims(const PeerCred& peer, const proto::Hello& hello);
  Result<void> bind(const std::shared_ptr<BotSession>& session);
  void onSessionClosed(const std::shared_ptr<BotSession>& session, const std::string& reason);
  void onStats(const proto::Stats& stats);
  void onEvent(const proto::Event& event);
  bool connected() const { return session_ && session_->open(); }

  // Control: run an action now (operator); set or read the limit.
  void runAction(proto::Action action, std::function<void(proto::BotOutcome)> done);
  void setLimit(config::Bytes limit);
  config::Bytes limit() const { return policy_.limit; }
  bool limitFromRuntime() const { return runtime_limit_; }
  proto::BotStatus status() const;

  ProcessState processState() const { return process_.state(); }
  // Counters for the shutdown summary and tests.
  std::uint64_t samples() const { return samples_; }
  std::uint64_t kernelWakeups() const { return kernel_wakeups_; }
  std::uint64_t actions() const { return actions_; }
  std::int64_t oomKills() const { return oom_kills_; }
  // What daemon.state_file keeps of this bot.
  BotCounters counters() const;
  std::optional<config::Bytes> peakMetric() const { return peak_metric_; }
  const std::string& detectionReason() const { return detection_reason_; }
  const std::string& detectionPath() const { return detection_path_; }
  const char* liveness() const { return liveness_.name(); }
  pid_t pid() const { return process_.pid(); }

 private:
  Clock::time_point now() const { return env_.now(); }
  ProcessOptions processOptions() const;
  BotProcess::Hooks processHooks();
  void onStarted(pid_t pid, bool owned);
  // Spawn mode: a bot an earlier memvisord started still runs (bot_record.hpp): supervise
  // it instead of starting another. False when there is none.
  bool takeOver();
  // At a takeover: the group the bot runs in becomes its owned group when it is the one this
  // memvisord would give it; else it is supervised where it is, and that is said.
  void adoptGroupOf(pid_t pid);
  void onExited(pid_t pid, const ExitInfo& info, std::chrono::milliseconds ran_for, bool expected);
  Result<void> prepareSpawn(SpawnSpec& spec);
  // Writes the kernel limit (limit + margin) to the owned group and journals the outcome.
  void applyKernelLimit();
  // Finds the bot's group (the owned one, or from /proc/PID/cgroup), checks it is the bot's
  // own, arms what it allows, journals the detection line. `started`: the pid just started.
  // With a registrar, v1 thresholds are armed make-before-break: the watchers armed before
  // keep watching until the new registrations are written (detectionArmed).
  void armDetection(std::optional<pid_t> started);
  void detectionArmed(const Result<void>& outcome);
  void announceDetection();
  std::string detectionBound() const;
  void scheduleSample(std::chrono::milliseconds delay);
  void wake(const detection::Event& event);
  void sampleNow();
  std::optional<config::Bytes> metricOf(const sampling::BotSample& s) const;
  void checkOom(std::uint64_t count, const std::string& when);
  // memvisor_bot_memory_bytes from the last sample; every figure absent when not running.
  void publishFigures(bool running);
  // memvisor_bot_limit_bytes and memvisor_bot_threshold_bytes from the policy in force.
  void publishLimit();
  void countersChanged();
  void execute(const policy::Intent& intent);
  // What the bot answered to one action request (or why it did not).
  struct BotReply {
    policy::Outcome outcome = policy::Outcome::kOk;
    std::string code;     // proto::errc when not ok
    std::string message;  // the error, or the bot's own (possibly empty)
    config::Bytes freed_bytes = 0;
    double duration_ms = 0;
    std::optional<proto::ActionResult> reply;  // when the bot answered
  };
  // The one path to the bot for policy and operator actions alike: marks the action
  // outstanding (running_action_), sends it with its deadline, and hands the answer to
  // `done`; `alive` false when this SupervisedBot is gone meanwhile (only `done` runs).
  void sendToBot(proto::ActionRequest req, std::chrono::milliseconds deadline,
                 std::function<void(BotReply, bool alive)> done);
  // Journal line, last action, metrics and saved counters of one finished action.
  void recordAction(const std::string& action, const std::string& result, bool ok,
                    config::Bytes freed, const std::string& reason, const std::string& message,
                    std::map<std::string, std::string> fields);
  void restartFor(const policy::Intent& intent);
  void actionDone();
  void finishAction(const policy::Intent& intent, policy::ActionResult result, double duration_ms,
                    const std::optional<proto::ActionResult>& reply);
  // From sending an action: samples the bot (policy::Settle) until its figure settles after
  // a successful reply, then finishes the action with memvisord's own before/after (the
  // lowest sample), the bot's figures beside it.
  std::shared_ptr<struct PendingSettle> startSettle(const policy::Intent& intent, config::Bytes before);
  void settleStep(std::shared_ptr<struct PendingSettle> pending);
  // One settle sample; true when the settle is over (finished now, or no longer wanted).
  bool settleSample(const std::shared_ptr<struct PendingSettle>& pending);
  void journal(const std::string& kind, proto::Level level, const std::string& message,
               std::map<std::string, std::string> fields = {});
  void journalNotes(const std::vector<policy::Note>& notes);
  bool requestShutdown(std::chrono::milliseconds deadline, const std::string& reason);
  void onLivenessChange(const policy::LivenessVerdict& v);
  void configureFigures();
  std::optional<pid_t> discover() const;

  BotEnv& env_;
  config::BotConfig config_;
  config::PolicyConfig policy_;  // config_.policy, with a runtime limit applied
  bool runtime_limit_ = false;
  BotProcess process_;
  std::optional<OwnedCgroup> cgroup_;
  std::optional<sampling::Sampler> sampler_;
  detection::DetectionSet detection_;
  detection::DetectionSet pending_detection_;  // being registered (see armDetection)
  std::string detection_reason_;
  std::string detection_path_ = "poll";  // eventfd | memory.events | psi | poll
  sampling::CgroupLocation detection_location_;
  bool detection_shared_ = false;
  std::string shared_reason_;  // the plan's reason when the group is not the bot's own
  config::Bytes eventfd_offset_ = 0;  // policy figure - group usage when the eventfds were armed
  policy::PolicyState pstate_;
  std::shared_ptr<BotSession> session_;
  boost::asio::steady_timer sample_timer_;
  boost::asio::steady_timer connect_timer_;  // a command waiting for the bot to connect
  boost::asio::steady_timer settle_timer_;   // samples after an action's reply
  std::optional<policy::Intent> awaiting_;
  std::optional<Clock::time_point> last_sample_at_;
  std::optional<sampling::BotSample> last_sample_;
  std::optional<config::Bytes> last_metric_;
  policy::HeapWatch heap_watch_;  // the heap alert on the bot's stats (V8 heap limit)
  std::optional<std::uint64_t> oom_baseline_;  // cgroup oom_kill counter seen last
  std::int64_t oom_kills_ = 0;
  // At most one trim/sweep/compact outstanding per bot (PROTOCOL.md section 9): the one out,
  // and a policy action held back while an operator's runs.
  std::optional<std::string> running_action_;
  std::optional<policy::Intent> deferred_;
  std::optional<proto::LastAction> last_action_;
  std::string last_sample_error_;  // journalled once until it changes
  std::optional<config::Bytes> peak_metric_;
  std::uint64_t samples_ = 0;
  std::uint64_t kernel_wakeups_ = 0;
  // The sampling schedule's phases are read off these two: loading (the first 2 s after the
  // start), fast after a wake (one poll.min), kernel-watched (10 s past the later of the two).
  Clock::time_point started_at_{};           // this incarnation's start
  std::optional<Clock::time_point> woke_at_;  // the last kernel notification
  std::chrono::milliseconds last_delay_{0};  // until the sample after the last one
  std::uint64_t actions_ = 0;
  std::int64_t restarts_before_ = 0;  // counted by a previous memvisord (state file)
  bool started_once_ = false;
  bool taking_over_ = false;
  Metrics::Bot* series_ = nullptr;
  FigureMetrics* figure_series_ = nullptr;
  BotFigures figures_;        // the bot's own stats, the monitor line, the memory alert
  LivenessDriver liveness_;   // pings; hung -> onLivenessChange
  std::uint64_t generation_ = 0;  // bumped per process incarnation
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace memvisor::daemon
