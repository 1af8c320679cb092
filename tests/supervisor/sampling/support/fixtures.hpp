// Paths of the captured fixture trees (tests/fixtures/<scenario>/{proc,sys/fs/cgroup}); the
// directory comes from the MEMVISOR_FIXTURES_DIR compile definition, never the working dir.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::testing {

inline std::string fixture(const std::string& rel) {
  return std::string(MEMVISOR_FIXTURES_DIR) + "/" + rel;
}

inline sampling::SysPaths fixturePaths(const std::string& scenario) {
  return sampling::SysPaths{fixture(scenario + "/proc"), fixture(scenario + "/sys/fs/cgroup")};
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The captured v1_tree scenario (see tests/fixtures/README.md and v1_tree/CAPTURED).
inline constexpr int kV1Bot = 9756;
inline constexpr int kV1Worker = 9798;
inline const char* const kV1CgroupRel =
    "process_api/ab8e5592d92a64a3bdc1d7531ab8e9dd/memvisor-fixture-9751";

}  // namespace memvisor::testing
