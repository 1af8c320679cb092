// Choosing and arming a bot's kernel notifications, with the reason for the start-up log.
#include "memvisor/detection/plan.hpp"

#include <unistd.h>

#include <algorithm>

#include "memvisor/detection/psi_trigger.hpp"
#include "memvisor/detection/v1_thresholds.hpp"
#include "memvisor/detection/v2_events.hpp"

namespace memvisor::detection {
namespace {

bool writable(const std::string& path) { return ::access(path.c_str(), W_OK) == 0; }
bool present(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

void append(std::string& reason, const std::string& part) {
  if (!reason.empty()) reason += "; ";
  reason += part;
}

}  // namespace

DetectionProbe probeDetection(const sampling::SysPaths& paths,
                              const sampling::CgroupLocation& location,
                              const ProbeContext& context) {
  DetectionProbe probe;
  probe.memory_version = location.memory_version;
  probe.memory_dir = location.memory_dir;
  if (location.memory_version == sampling::CgroupVersion::kV1) {
    probe.v1_event_control_writable = writable(location.memory_dir + "/cgroup.event_control");
  } else if (location.memory_version == sampling::CgroupVersion::kV2) {
    probe.v2_memory_events_present = present(location.memory_dir + "/memory.events");
  }
  if (location.v2_dir && writable(*location.v2_dir + "/memory.pressure")) {
    probe.cgroup_pressure_path = *location.v2_dir + "/memory.pressure";
  }
  if (context.bot > 0) {
    const std::string& dir = location.hasMemory() ? location.memory_dir
                             : location.v2_dir    ? *location.v2_dir
                                                  : std::string();
    if (!dir.empty()) {
      if (auto sharing = sampling::classifyCgroupMembers(paths, dir, context.bot, context.self)) {
        probe.sharing = *sharing;
      }
    }
  }
  return probe;
}

DetectionPlan planDetection(const DetectionProbe& probe,
                            const std::vector<std::uint64_t>& thresholds_bytes,
                            const DetectionPreferences& preferences) {
  DetectionPlan plan;
  std::vector<std::uint64_t> thresholds = thresholds_bytes;
  std::sort(thresholds.begin(), thresholds.end());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  thresholds.erase(std::remove(thresholds.begin(), thresholds.end(), 0), thresholds.end());

  std::string reason;
  bool cgroup_events = false;
  if (probe.sharing && probe.sharing->shared()) {
    const std::string dir = !probe.memory_dir.empty() ? probe.memory_dir
                            : !probe.cgroup_pressure_path.empty()
                                ? probe.cgroup_pressure_path.substr(
                                      0, probe.cgroup_pressure_path.rfind('/'))
                                : std::string("?");
    plan.shared_cgroup = true;
    plan.reason = "shared cgroup " + dir + " (" + probe.sharing->describe() +
                  "): no per-bot kernel notifications, polling only";
    return plan;
  }
  if (probe.memory_version == sampling::CgroupVersion::kV1) {
    if (!probe.v1_event_control_writable) {
      append(reason, "cgroup v1 " + probe.memory_dir + ": cgroup.event_control not writable");
    } else if (thresholds.empty()) {
      append(reason, "cgroup v1 " + probe.memory_dir + ": no thresholds to register");
    } else {
      plan.v1_dir = probe.memory_dir;
      plan.v1_thresholds = thresholds;
      append(reason, "cgroup v1 thresholds on " + probe.memory_dir + ": " +
                         std::to_string(thresholds.size()) + " eventfds");
      cgroup_events = true;
    }
  } else if (probe.memory_version == sampling::CgroupVersion::kV2) {
    if (probe.v2_memory_events_present) {
      plan.v2_events_path = probe.memory_dir + "/memory.events";
      append(reason, "cgroup v2 memory.events inotify on " + plan.v2_events_path);
      cgroup_events = true;
    } else {
      append(reason, "cgroup v2 " + probe.memory_dir + ": no memory.events");
    }
  } else {
    append(reason, "no memory cgroup");
  }

  if (preferences.use_psi) {
    std::string note;
    auto spec = normalizePsiTrigger(preferences.psi, &note);
    const std::string& path = probe.cgroup_pressure_path;
    if (!spec.ok()) {
      append(reason, "PSI off: " + spec.error().message);
    } else if (path.empty()) {
      append(reason, "PSI off: no writable memory.pressure");
    } else {
      plan.psi_path = path;
      plan.psi = *spec;
      std::string part = "PSI trigger " + formatPsiTrigger(*spec) + " on " + path;
      if (!note.empty()) part += " (" + note + ")";
      append(reason, part);
    }
  }
  if (!plan.v1_dir.empty()) {
    plan.path = "eventfd";
  } else if (!plan.v2_events_path.empty()) {
    plan.path = "memory.events";
  } else if (!plan.psi_path.empty()) {
    plan.path = "psi";
  }
  if (plan.pollingOnly()) {
    reason = "no writable cgroup: polling only (" + reason + ")";
  } else if (!cgroup_events) {
    append(reason, "polling for the bot's own figures");
  }
  plan.reason = reason;
  return plan;
}

DetectionSet& DetectionSet::operator=(DetectionSet&& other) noexcept {
  if (this != &other) {
    stop();
    v1 = std::move(other.v1);
    v2_events = std::move(other.v2_events);
    psi = std::move(other.psi);
    failures = std::move(other.failures);
    reason = std::move(other.reason);
  }
  return *this;
}

DetectionSet::~DetectionSet() { stop(); }

void DetectionSet::stop() {
  if (v1) v1->stop();
  if (v2_events) v2_events->stop();
  if (psi) psi->stop();
}

DetectionSet startDetection(boost::asio::io_context& io, const DetectionPlan& plan,
                            Callback callback, ThresholdRegistrar* registrar,
                            std::function<void(const Result<void>&)> on_v1_armed) {
  DetectionSet set;
  std::string reason;
  if (!plan.v1_dir.empty()) {
    auto v1 = V1ThresholdWatcher::create(io, plan.v1_dir, plan.v1_thresholds, callback,
                                         registrar, std::move(on_v1_armed));
    if (v1.ok()) {
      set.v1 = *v1;
      append(reason, "cgroup v1 thresholds on " + plan.v1_dir + ": " +
                         std::to_string(set.v1->armedCount()) + " eventfds");
    } else {
      set.failures.push_back(v1.error());
      append(reason, "cgroup v1 thresholds failed: " + v1.error().message);
    }
  }
  if (!plan.v2_events_path.empty()) {
    auto v2 = MemoryEventsWatcher::create(io, plan.v2_events_path, callback);
    if (v2.ok()) {
      set.v2_events = *v2;
      append(reason, "cgroup v2 memory.events inotify on " + plan.v2_events_path);
    } else {
      set.failures.push_back(v2.error());
      append(reason, "cgroup v2 memory.events failed: " + v2.error().message);
    }
  }
  if (!plan.psi_path.empty()) {
    auto psi = PsiTrigger::create(io, plan.psi_path, plan.psi, callback);
    if (psi.ok()) {
      set.psi = *psi;
      append(reason, "PSI trigger " + formatPsiTrigger(plan.psi) + " on " + plan.psi_path);
    } else {
      set.failures.push_back(psi.error());
      append(reason, "PSI trigger failed: " + psi.error().message);
    }
  }
  if (!set.v1 && !set.v2_events && !set.psi) {
    append(reason, plan.pollingOnly() ? "no writable cgroup: polling only" : "polling only");
  }
  set.reason = reason;
  return set;
}

}  // namespace memvisor::detection
