// Locating a process's memory cgroup from /proc/PID/cgroup: the v1 "N:memory:/path" line and
// the v2 "0::/path" line, joined with the hierarchy mount points under SysPaths::cgroup_root.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

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

// Absolute mount points of the hierarchies that matter.
struct CgroupMounts {
  std::optional<std::string> v1_memory;  // e.g. /sys/fs/cgroup/memory
  std::optional<std::string> v2;         // /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified
};
// Layout probe under cgroup_root (works on fixture trees): v1 memory is <root>/memory when that
// directory exists; v2 is <root> when it holds cgroup.controllers (unified mode), else
// <root>/unified when that holds cgroup.controllers (hybrid mode).
CgroupMounts probeCgroupMounts(const SysPaths& paths);
// From /proc/self/mountinfo text: the "cgroup" mount whose options include "memory" and the
// "cgroup2" mount. For hosts where cgroupfs is mounted somewhere unusual.
CgroupMounts parseMountInfo(std::string_view text);

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
// Prefers a v2 group with memory.current, then the v1 memory group. Not an error when the
// process has no memory cgroup: the location is then empty.
Result<CgroupLocation> resolveCgroup(const SysPaths& paths, const CgroupMounts& mounts, pid_t pid);
Result<CgroupLocation> resolveCgroup(const SysPaths& paths, pid_t pid);  // probeCgroupMounts

}  // namespace memvisor::sampling
