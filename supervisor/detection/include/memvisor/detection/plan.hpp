// Which kernel notifications a bot can use, and why (the start-up log line). probeDetection()
// gathers facts (I/O); planDetection() decides (pure); startDetection() arms the watchers.
// Polling stays the safety net in every case: that is the daemon's job.
//
// Notifications are armed only on the bot's own group: one memvisord created for it, or a
// group that holds nothing but the bot's process tree (and its ancestors, e.g. a container's
// init). A group shared with memvisord or other processes (memvisord's own, a login session)
// gets no per-bot watcher: its thresholds describe none of the bots, and N bots would arm N
// copies on it. The system-wide /proc/pressure/memory is never armed per bot, for the same
// reason.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "memvisor/detection/event.hpp"
#include "memvisor/detection/psi_trigger.hpp"
#include "memvisor/result.hpp"
#include "memvisor/sampling/cgroup.hpp"
#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::detection {

// Facts about a bot's cgroup and the host, as probeDetection() found them.
struct DetectionProbe {
  std::optional<sampling::CgroupVersion> memory_version;
  std::string memory_dir;
  bool v1_event_control_writable = false;  // <memory_dir>/cgroup.event_control, v1 only
  bool v2_memory_events_present = false;   // <memory_dir>/memory.events, v2 only
  std::string cgroup_pressure_path;        // <v2_dir>/memory.pressure if writable, else empty
  // Who else lives in the group (nullopt: not checked, or cgroup.procs unreadable).
  std::optional<sampling::CgroupSharing> sharing;
};

// Whose group it is, for the sharing check (also of a group memvisord created for the bot:
// a bot left over by an earlier memvisord, or another daemon's bot of the same name, may be
// in it).
struct ProbeContext {
  pid_t bot = 0;   // the bot's root pid; 0 = do not check
  pid_t self = 0;  // memvisord's pid
};
DetectionProbe probeDetection(const sampling::SysPaths& paths,
                              const sampling::CgroupLocation& location,
                              const ProbeContext& context = {});

struct DetectionPreferences {
  bool use_psi = true;  // PSI triggers next to (or instead of) cgroup notifications
  PsiTriggerSpec psi;   // normalised by planDetection
};

struct DetectionPlan {
  std::string v1_dir;                   // non-empty: arm V1ThresholdWatcher here
  std::vector<std::uint64_t> v1_thresholds;
  std::string v2_events_path;           // non-empty: arm MemoryEventsWatcher on it
  std::string psi_path;                 // non-empty: arm PsiTrigger on it
  PsiTriggerSpec psi;
  // The fastest path armed: "eventfd" (v1 thresholds), "memory.events", "psi", or "poll".
  std::string path = "poll";
  bool shared_cgroup = false;  // the group is not the bot's own (see the header comment)
  // For the start-up log line, e.g. "cgroup v1 thresholds on /sys/fs/cgroup/memory/x:
  // 3 eventfds; PSI trigger some 150000 2000000 on /proc/pressure/memory" or
  // "no writable cgroup: polling only".
  std::string reason;

  [[nodiscard]] bool pollingOnly() const {
    return v1_dir.empty() && v2_events_path.empty() && psi_path.empty();
  }
};
// thresholds_bytes: the absolute figures at which the bot's policy acts (duplicates and zeros
// are dropped). v1 thresholds need at least one threshold.
DetectionPlan planDetection(const DetectionProbe& probe,
                            const std::vector<std::uint64_t>& thresholds_bytes,
                            const DetectionPreferences& preferences = {});

class V1ThresholdWatcher;
class ThresholdRegistrar;
class MemoryEventsWatcher;
class PsiTrigger;

// The armed watchers of one bot. stop() (or destruction) disarms all of them.
class DetectionSet {
 public:
  DetectionSet() = default;
  DetectionSet(DetectionSet&&) noexcept = default;
  DetectionSet& operator=(DetectionSet&&) noexcept;
  DetectionSet(const DetectionSet&) = delete;
  DetectionSet& operator=(const DetectionSet&) = delete;
  ~DetectionSet();
  void stop();

  std::shared_ptr<V1ThresholdWatcher> v1;
  std::shared_ptr<MemoryEventsWatcher> v2_events;
  std::shared_ptr<PsiTrigger> psi;
  // What failed to arm (the plan's mechanism is then missing; polling still covers the bot).
  std::vector<Error> failures;
  // The reason line updated with what actually armed.
  std::string reason;
};
// Arms what the plan names. Arming failures are collected, not fatal. With a registrar the
// v1 thresholds are written on its threads (see threshold_registrar.hpp): the set's v1 is
// then not yet armed() when this returns, and on_v1_armed is posted with the outcome.
DetectionSet startDetection(boost::asio::io_context& io, const DetectionPlan& plan,
                            Callback callback, ThresholdRegistrar* registrar = nullptr,
                            std::function<void(const Result<void>&)> on_v1_armed = {});

}  // namespace memvisor::detection
