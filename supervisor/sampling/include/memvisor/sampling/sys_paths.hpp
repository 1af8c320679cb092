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
};

}  // namespace memvisor::sampling
