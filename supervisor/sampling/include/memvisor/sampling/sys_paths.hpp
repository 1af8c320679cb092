// SysPaths: the roots every /proc and cgroup reader takes, so that tests read fixture trees
// and a sidecar can read a host's /proc mounted elsewhere.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace memvisor::sampling {

struct SysPaths {
  std::string proc_root = "/proc";
  std::string cgroup_root = "/sys/fs/cgroup";

  // "<proc_root>/<pid>/<file>"; the only place that builds per-process paths.
  [[nodiscard]] std::string pidFile(pid_t pid, std::string_view file) const;
  // "<proc_root>/<file>", e.g. procFile("meminfo").
  [[nodiscard]] std::string procFile(std::string_view file) const;
  // A cgroup mount point as /proc/self/mountinfo names it, seen through these roots: under the
  // default /sys/fs/cgroup it is rebased onto cgroup_root (fixture trees, a host's cgroupfs
  // mounted elsewhere); any other mount point is taken as it is.
  [[nodiscard]] std::string cgroupMountPoint(std::string_view mount_point) const;
};

}  // namespace memvisor::sampling
