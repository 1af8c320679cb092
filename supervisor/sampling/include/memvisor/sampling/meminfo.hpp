// The host's memory: /proc/meminfo (MemAvailable) and /proc/pressure/memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "memvisor/result.hpp"
#include "memvisor/sampling/pressure.hpp"
#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::sampling {

struct MemInfo {
  std::uint64_t mem_total_bytes = 0;
  std::uint64_t mem_free_bytes = 0;
  std::uint64_t mem_available_bytes = 0;
  std::uint64_t swap_total_bytes = 0;
  std::uint64_t swap_free_bytes = 0;
};
// Error code "missing_field" without MemTotal or MemAvailable.
Result<MemInfo> parseMeminfo(std::string_view text);
Result<MemInfo> readMeminfo(const SysPaths& paths);

struct HostSample {
  MemInfo meminfo;
  std::optional<Pressure> pressure;  // nullopt when the kernel has no PSI
};
Result<HostSample> readHost(const SysPaths& paths);

}  // namespace memvisor::sampling
