// Locating a process's memory cgroup from /proc/PID/cgroup: the v1 "N:memory:/path" line and
// the v2 "0::/path" line, joined with the mounts of those hierarchies that memvisord can see.
//
// A mount shows the part of a hierarchy below its `root` (field 4 of /proc/self/mountinfo):
// the host's /sys/fs/cgroup/memory has root "/", a container's own group is mounted with root
// "/docker/<id>", and a sidecar given the bot container's group (or the host's hierarchy)
// mounted anywhere sees it under that mount's root. resolveCgroup() picks, per hierarchy, the
// mount whose root is the longest prefix of the process's path, so a sidecar finds the bot's
// group wherever it was mounted, and never mistakes its own container's group for the bot's.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memvisor/result.hpp"
#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::sampling {

enum class CgroupVersion { kV1, kV2 };
const char* toString(CgroupVersion version);  // "v1" / "v2"

// Paths relative to each hierarchy's root, as /proc/PID/cgroup lists them.
struct ProcCgroup {
  std::optional<std::string> v1_memory;  // from "N:...memory...:/path" (comma lists allowed)
  std::optional<std::string> v2;         // from "0::/path"
};
// Error code "parse" on a line without two ':'.
Result<ProcCgroup> parseProcCgroup(std::string_view text);
Result<ProcCgroup> readProcCgroup(const SysPaths& paths, pid_t pid);

// One mount of a hierarchy: the group `root` (as /proc/PID/cgroup spells paths) is visible at
// `mount_point`.
struct CgroupMount {
  std::string root = "/";
  std::string mount_point;
  bool operator==(const CgroupMount&) const = default;
};

// The mounts of the hierarchies that matter.
struct CgroupMounts {
  std::optional<std::string> v1_memory;  // first v1 memory mount point, e.g. /sys/fs/cgroup/memory
  std::optional<std::string> v2;         // first cgroup2 mount point
  std::vector<CgroupMount> v1_memory_mounts;  // every mount of the v1 memory hierarchy
  std::vector<CgroupMount> v2_mounts;         // every cgroup2 mount
};
// <proc_root>/self/mountinfo when it lists cgroup mounts (mount points under /sys/fs/cgroup
// rebased onto SysPaths::cgroup_root, see SysPaths::cgroupMountPoint), else the layout under
// cgroup_root with root "/": v1 memory is <root>/memory when that directory exists; v2 is
// <root> when it holds cgroup.controllers (unified mode), else <root>/unified (hybrid mode).
CgroupMounts probeCgroupMounts(const SysPaths& paths);
// From /proc/self/mountinfo text: every "cgroup" mount whose options include "memory" and
// every "cgroup2" mount, with their roots; mount points as written (octal escapes decoded).
CgroupMounts parseMountInfo(std::string_view text);
// Where group `path` (as /proc/PID/cgroup spells it) appears under one of `mounts`: the mount
// with the longest root that is a prefix of path (component-wise). nullopt when no mount shows
// it. Pure: existence of the directory is the caller's business.
std::optional<std::string> mapCgroupPath(const std::vector<CgroupMount>& mounts,
                                         std::string_view path);

// Where a process's memory accounting lives.
struct CgroupLocation {
  // The hierarchy carrying the memory controller, if any (v2 only when memory.current exists).
  std::optional<CgroupVersion> memory_version;
  std::string memory_dir;             // absolute dir of memory.* files; empty when none
  std::optional<std::string> v2_dir;  // the cgroup2 dir, even without memory controller (PSI)

  [[nodiscard]] bool hasMemory() const { return memory_version.has_value(); }
  // "v1 /sys/fs/cgroup/memory/x" / "v2 /sys/fs/cgroup/x" / "none".
  [[nodiscard]] std::string describe() const;
};
// Prefers a v2 group with memory.current, then the v1 memory group; of the mounts that show a
// group, the first (longest root) where its marker file exists. Not an error when the process
// has no memory cgroup, or none memvisord can see: the location is then empty.
Result<CgroupLocation> resolveCgroup(const SysPaths& paths, const CgroupMounts& mounts, pid_t pid);
Result<CgroupLocation> resolveCgroup(const SysPaths& paths, pid_t pid);  // probeCgroupMounts

// Who else lives in a bot's memory group: thresholds on a group shared with memvisord or with
// unrelated processes describe none of the bots and only wake memvisord for nothing.
struct CgroupSharing {
  bool holds_self = false;       // memvisord itself is in the group
  std::size_t members = 0;       // pids listed in cgroup.procs
  // Members neither in the bot's tree nor among its ancestors; counting stops at the first
  // (and is not done at all when the group holds memvisord): 0 or 1.
  std::size_t foreign = 0;
  [[nodiscard]] bool shared() const { return holds_self || foreign > 0; }
  // "holds memvisord itself and 12 other processes" / "holds processes besides the bot's";
  // "" when not shared.
  [[nodiscard]] std::string describe() const;
};
// Reads <dir>/cgroup.procs; a group holding `self` (memvisord's pid; a fixture's in tests) is
// shared at once, otherwise members are classified by their ppid chains (/proc/PID/stat under
// paths) until the first foreign one. A member that vanished meanwhile is ignored. Error code
// from the cgroup.procs read.
Result<CgroupSharing> classifyCgroupMembers(const SysPaths& paths, const std::string& dir,
                                            pid_t bot, pid_t self);

}  // namespace memvisor::sampling
