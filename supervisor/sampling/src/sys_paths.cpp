// Path building for SysPaths: the one place /proc paths are assembled.
#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::sampling {

std::string SysPaths::pidFile(pid_t pid, std::string_view file) const {
  std::string out = proc_root;
  out += '/';
  out += std::to_string(pid);
  out += '/';
  out += file;
  return out;
}

std::string SysPaths::procFile(std::string_view file) const {
  std::string out = proc_root;
  out += '/';
  out += file;
  return out;
}

std::string SysPaths::cgroupMountPoint(std::string_view mount_point) const {
  constexpr std::string_view kDefault = "/sys/fs/cgroup";
  if (cgroup_root == kDefault) return std::string(mount_point);
  if (mount_point.substr(0, kDefault.size()) != kDefault) return std::string(mount_point);
  std::string_view rest = mount_point.substr(kDefault.size());
  if (!rest.empty() && rest.front() != '/') return std::string(mount_point);  // /sys/fs/cgroupX
  return cgroup_root + std::string(rest);
}

}  // namespace memvisor::sampling
