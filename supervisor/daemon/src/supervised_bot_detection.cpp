// SupervisedBot's detection: which kernel notifications (v1 threshold eventfds, v2
// memory.events, PSI) can wake the sampling loop for this bot's group, armed at the
// policy's decision figures, and the bound that leaves on how late a crossing is seen.
#include <unistd.h>

#include "memvisor/config/units.hpp"
#include "memvisor/daemon/supervised_bot.hpp"
#include "memvisor/sampling/cgroup_memory.hpp"

namespace memvisor::daemon {

// ---- detection ----------------------------------------------------------------------------

void SupervisedBot::armDetection(std::optional<pid_t> started) {
  pending_detection_.stop();  // a registration still in flight is superseded
  pending_detection_ = {};
  if (!started && !process_.running()) {
    detection_.stop();
    return;
  }
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
  shared_reason_ = plan.shared_cgroup ? plan.reason : std::string();
  auto set = detection::startDetection(
      env_.io, plan,
      [this, alive = std::weak_ptr<bool>(alive_)](const detection::Event& e) {
        if (!alive.expired()) wake(e);
      },
      env_.registrar,
      [this, alive = std::weak_ptr<bool>(alive_)](const Result<void>& outcome) {
        if (!alive.expired()) detectionArmed(outcome);
      });
  if (set.v1 && !set.v1->armed()) {
    // Registering: a new process's group is not the old one's, so nothing old is kept for it;
    // a re-arm keeps the armed watchers until the new ones take over.
    if (started) detection_.stop();
    pending_detection_ = std::move(set);
    return;
  }
  detection_ = std::move(set);
  announceDetection();
}

void SupervisedBot::detectionArmed(const Result<void>& outcome) {
  if (!outcome.ok()) {
    pending_detection_.v1.reset();
    pending_detection_.failures.push_back(outcome.error());
    pending_detection_.reason =
        "cgroup v1 thresholds failed: " + outcome.error().message + "; polling only";
  }
  detection_ = std::move(pending_detection_);  // stops the watchers it replaces
  pending_detection_ = {};
  announceDetection();
}

void SupervisedBot::announceDetection() {
  detection_path_ = detection_.v1          ? "eventfd"
                    : detection_.v2_events ? "memory.events"
                    : detection_.psi       ? "psi"
                                           : "poll";
  const std::string bound = detectionBound();
  std::string reason = detection_.reason;
  if (detection_shared_) reason = shared_reason_;
  reason += "; bound: " + bound + " (next sample when the bot could reach the next decision " +
            "figure at " + config::formatBytes(policy_.max_growth) + "/s, within " +
            config::formatDuration(policy_.poll_min) + ".." +
            config::formatDuration(policy_.poll_max) + ")";
  if (reason != detection_reason_) {
    detection_reason_ = reason;
    std::map<std::string, std::string> fields{
        {"cgroup", detection_location_.describe()},
        {"path", detection_path_},
        {"bound", bound},
        {"bound_ms", std::to_string(policy_.poll_min.count())},
        {"shared_cgroup", detection_shared_ ? "true" : "false"},
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

}  // namespace memvisor::daemon
