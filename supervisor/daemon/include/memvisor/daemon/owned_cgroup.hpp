// OwnedCgroup: a memory cgroup memvisord creates for a bot (a child of memvisord's own, v1
// or v2), so that the kernel limit can be set a margin above memvisor's own limit: the
// kernel is the backstop, not the first line.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "memvisor/result.hpp"
#include "memvisor/sampling/cgroup.hpp"
#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::daemon {

class OwnedCgroup {
 public:
  // Creates (or reuses) <memvisord's memory cgroup>/memvisor-<bot>. Error codes: "no_cgroup"
  // (memvisord has no memory cgroup), "eacces"/"erofs"... from mkdir.
  static Result<OwnedCgroup> create(const sampling::SysPaths& paths, const std::string& bot);
  // Creates (or reuses) <parent>/memvisor-<bot> under a given memory cgroup (v1 when the
  // kernel gave the new group memory.limit_in_bytes, else v2).
  static Result<OwnedCgroup> createIn(const std::string& parent, const std::string& bot);
  // An existing directory (tests create their own groups).
  static OwnedCgroup adopt(sampling::CgroupVersion version, std::string dir);

  OwnedCgroup(OwnedCgroup&&) noexcept = default;
  OwnedCgroup& operator=(OwnedCgroup&&) noexcept = default;
  ~OwnedCgroup() = default;

  // v1: memory.limit_in_bytes. v2: memory.max = hard, memory.high = soft (when given).
  Result<void> setLimit(std::uint64_t hard_bytes, std::optional<std::uint64_t> soft_bytes);
  // Where a spawned child writes itself before exec.
  std::string procsPath() const { return dir_ + "/cgroup.procs"; }
  // For the sampler and detection.
  sampling::CgroupLocation location() const;
  // rmdir once empty; false (not an error) while processes remain.
  bool remove();
  const std::string& dir() const { return dir_; }
  sampling::CgroupVersion version() const { return version_; }

 private:
  OwnedCgroup(sampling::CgroupVersion v, std::string dir) : version_(v), dir_(std::move(dir)) {}
  sampling::CgroupVersion version_;
  std::string dir_;
};

}  // namespace memvisor::daemon
