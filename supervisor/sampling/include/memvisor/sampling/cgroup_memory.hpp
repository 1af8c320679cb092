// Memory accounting of one cgroup, v1 and v2, normalised into CgroupMemory. Working set is
// usage minus inactive file, as the kubelet defines it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "memvisor/result.hpp"
#include "memvisor/sampling/cgroup.hpp"
#include "memvisor/sampling/pressure.hpp"

namespace memvisor::sampling {

// memory.stat figures common to both versions (v1 reads the hierarchical total_* keys).
struct MemoryStat {
  std::uint64_t anon_bytes = 0;           // v2 anon, v1 total_rss
  std::uint64_t file_bytes = 0;           // v2 file, v1 total_cache
  std::uint64_t inactive_file_bytes = 0;  // v2 inactive_file, v1 total_inactive_file
};
// Error code "missing_field" when a needed key is absent, "parse" on a bad number.
Result<MemoryStat> parseV2MemoryStat(std::string_view text);
Result<MemoryStat> parseV1MemoryStat(std::string_view text);

// v2 memory.events (all counters; absent keys stay 0, older kernels lack oom_group_kill).
struct MemoryEvents {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  std::uint64_t max = 0;
  std::uint64_t oom = 0;
  std::uint64_t oom_kill = 0;
  std::uint64_t oom_group_kill = 0;
};
Result<MemoryEvents> parseV2MemoryEvents(std::string_view text);

// v1 memory.oom_control.
struct OomControl {
  bool oom_kill_disable = false;
  bool under_oom = false;
  std::uint64_t oom_kill = 0;  // absent before Linux 4.13: 0
};
Result<OomControl> parseV1OomControl(std::string_view text);

// "max" -> nullopt (unlimited); a number -> bytes.
Result<std::optional<std::uint64_t>> parseV2Limit(std::string_view text);
// v1 reports "unlimited" as a huge page-rounded value (9223372036854771712): >= 2^62 -> nullopt.
Result<std::optional<std::uint64_t>> parseV1Limit(std::string_view text);
// A single decimal number file (memory.current, memory.usage_in_bytes, memory.failcnt).
Result<std::uint64_t> parseU64File(std::string_view text);

std::uint64_t workingSet(std::uint64_t usage_bytes, std::uint64_t inactive_file_bytes);

struct CgroupMemory {
  CgroupVersion version = CgroupVersion::kV1;
  std::string dir;
  std::uint64_t usage_bytes = 0;               // v2 memory.current, v1 memory.usage_in_bytes
  std::optional<std::uint64_t> limit_bytes;    // nullopt: unlimited
  std::optional<std::uint64_t> high_bytes;     // v2 memory.high; nullopt: "max" or v1
  MemoryStat stat;
  std::uint64_t working_set_bytes = 0;
  std::uint64_t oom_kill_count = 0;            // v2 events oom_kill, v1 oom_control oom_kill
  std::optional<MemoryEvents> events;          // v2 only
  std::optional<std::uint64_t> failcnt;        // v1 only: times the limit was hit
  std::optional<Pressure> pressure;            // v2 memory.pressure, when readable
};
// Error codes come from the failing file ("enoent", "parse"...), message prefixed with
// "reading <path>".
Result<CgroupMemory> readCgroupV1Memory(const std::string& dir);
Result<CgroupMemory> readCgroupV2Memory(const std::string& dir);
// Dispatches on location.memory_version. Error code "no_cgroup" when it has none.
Result<CgroupMemory> readCgroupMemory(const CgroupLocation& location);
// Only the usage (v1 memory.usage_in_bytes, v2 memory.current): the sampling hot path.
Result<std::uint64_t> readCgroupUsage(const CgroupLocation& location);

}  // namespace memvisor::sampling
