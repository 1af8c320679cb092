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

}  // namespace memvisor::sampling
