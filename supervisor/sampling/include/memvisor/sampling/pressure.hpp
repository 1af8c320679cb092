// PSI (pressure stall information) text: /proc/pressure/memory and a cgroup2 memory.pressure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "memvisor/result.hpp"
#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::sampling {

struct PressureLine {
  double avg10 = 0;   // percent of wall time stalled over 10 s
  double avg60 = 0;
  double avg300 = 0;
  std::uint64_t total_us = 0;  // cumulative stall time
};
struct Pressure {
  PressureLine some;
  std::optional<PressureLine> full;  // absent in cpu pressure on old kernels
};
// Error codes: "missing_field" without a "some" line, "parse".
Result<Pressure> parsePressure(std::string_view text);
Result<Pressure> readPressure(const std::string& path);
// <proc_root>/pressure/memory. Error code "enoent" when the kernel lacks PSI.
Result<Pressure> readHostMemoryPressure(const SysPaths& paths);

}  // namespace memvisor::sampling
