// Sampler: one bot's memory figures in one struct per tick. Two speeds: every sample reads
// only what a decision needs (statm through kept fds of the known tree, ~1 µs each, and the
// cgroup's usage file); the process tree, the status breakdown and the cgroup's stat and OOM
// counters are refreshed at slow_interval, PSS/USS from smaps_rollup at pss_interval.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "memvisor/result.hpp"
#include "memvisor/sampling/cgroup.hpp"
#include "memvisor/sampling/cgroup_memory.hpp"
#include "memvisor/sampling/process_files.hpp"
#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::sampling {

using Clock = std::chrono::steady_clock;

struct SamplerOptions {
  // smaps_rollup costs ~4 ms on a 300 MiB process: PSS/USS are refreshed at most this often
  // (zero: every sample).
  std::chrono::milliseconds pss_interval{30'000};
  // The tree (new children), status breakdown and full cgroup accounting are refreshed at most
  // this often (zero: every sample); samples in between carry them over.
  std::chrono::milliseconds slow_interval{2'000};
  bool follow_tree = true;   // sum over descendants (bots forking shards/workers)
  bool read_status = true;   // RssAnon/RssFile/RssShmem/VmSwap breakdown
  // Use this cgroup instead of discovering it from /proc/ROOT/cgroup (memvisord owns it).
  std::optional<CgroupLocation> cgroup;
  // The root's pidfd (not owned). With it, opening the root's statm is proven to have bound
  // the bot's incarnation, not a stranger's that reused the pid.
  int root_pidfd = -1;
};

struct BotSample {
  Clock::time_point at{};
  pid_t root_pid = 0;
  std::size_t process_count = 0;

  // Sums over the process tree.
  std::uint64_t rss_bytes = 0;  // statm resident
  std::uint64_t rss_anon_bytes = 0;
  std::uint64_t rss_file_bytes = 0;
  std::uint64_t rss_shmem_bytes = 0;
  std::uint64_t swap_bytes = 0;

  // Last smaps_rollup measurement (carried over between refreshes).
  std::optional<std::uint64_t> pss_bytes;
  std::optional<std::uint64_t> uss_bytes;
  std::optional<Clock::time_point> pss_at;
  bool pss_fresh = false;  // measured in this sample
  // When the tree, status breakdown and full cgroup figures were last read.
  std::optional<Clock::time_point> slow_at;
  bool slow_fresh = false;  // read in this sample

  // The bot's cgroup, when it has a memory one.
  std::optional<CgroupMemory> cgroup;
  std::optional<Error> cgroup_error;  // reading the cgroup failed (the process figures are valid)

  // Convenience copies of the cgroup figures (nullopt without a memory cgroup).
  std::optional<std::uint64_t> cgroup_usage_bytes;
  std::optional<std::uint64_t> cgroup_limit_bytes;  // nullopt also when unlimited
  std::optional<std::uint64_t> working_set_bytes;
  std::uint64_t oom_kill_count = 0;
};

// Samples one bot. Not thread-safe; meant to be driven by the daemon's sampling timer.
// The clock is injected: sample() takes the current time.
class Sampler {
 public:
  Sampler(SysPaths paths, pid_t root, SamplerOptions options = {});

  // Error code "gone" when the root process no longer exists; other errors carry their file.
  // Processes of the tree vanishing mid-sample are normal and skipped.
  Result<BotSample> sample(Clock::time_point now);

  // After a restart: a new root pid, forget kept fds, PSS and the discovered cgroup.
  void reset(pid_t new_root);
  // The daemon slows the refresh down while the kernel watches the bot's figures for it.
  void setSlowInterval(std::chrono::milliseconds interval) { options_.slow_interval = interval; }
  // The next sample refreshes the slow figures (a kernel notification: who grew?).
  void refreshSoon() { slow_due_ = true; }
  // Force the next sample() to re-read smaps_rollup (e.g. right after an action).
  void requestPss() { pss_due_ = true; }
  // Force the next sample() to refresh the slow figures (tree, status, cgroup accounting).
  void requestSlow() { slow_due_ = true; }

  [[nodiscard]] pid_t root() const { return root_; }
  // The cgroup found at the first sample (or given in the options).
  [[nodiscard]] const std::optional<CgroupLocation>& cgroup() const { return cgroup_; }

 private:
  void samplePss(const std::vector<pid_t>& pids, Clock::time_point now, BotSample& out);
  void sampleCgroup(bool slow, BotSample& out);

  SysPaths paths_;
  pid_t root_;
  SamplerOptions options_;
  std::optional<CgroupLocation> cgroup_;
  bool cgroup_resolved_ = false;
  // Kept statm fds, the root's and its workers', pruned when pids leave.
  std::map<pid_t, StatmReader> statm_;
  std::optional<std::uint64_t> pss_bytes_;
  std::optional<std::uint64_t> uss_bytes_;
  std::optional<Clock::time_point> pss_at_;
  bool pss_due_ = true;
  // Slow figures carried between refreshes.
  std::vector<pid_t> tree_;  // root first
  std::optional<Clock::time_point> slow_at_;
  bool slow_due_ = true;
  std::uint64_t rss_anon_ = 0, rss_file_ = 0, rss_shmem_ = 0, swap_ = 0;
  std::optional<CgroupMemory> cgroup_memory_;
};

}  // namespace memvisor::sampling
