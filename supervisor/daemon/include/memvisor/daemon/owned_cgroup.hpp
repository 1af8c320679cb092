// OwnedCgroup: a memory cgroup memvisord creates for a bot (a child of memvisord's own, v1
// or v2), so that the kernel limit can be set a margin above memvisor's own limit: the
// kernel is the backstop, not the first line.
//
// The group is named "memvisor-<bot>-<instance>", where <instance> is a tag of the
// memvisord that owns it (instanceTag: the bot socket's path, hashed). Two memvisords in
// one cgroup (two deployments started from one shell, or tests run side by side) may
// supervise bots of the same name; without the tag they would share one group, write each
// other's kernel limits, read each other's usage, and rmdir it while the other's bot is
// between two runs. The tag is stable across restarts of one memvisord, so the next one
// finds the group its predecessor's bot is in.
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
  // Creates (or reuses) <memvisord's memory cgroup>/memvisor-<bot>-<instance>. Error codes:
  // "no_cgroup" (memvisord has no memory cgroup), "eacces"/"erofs"... from mkdir.
  static Result<OwnedCgroup> create(const sampling::SysPaths& paths, const std::string& bot,
                                    const std::string& instance);
  // Creates (or reuses) <parent>/memvisor-<bot>-<instance> under a given memory cgroup (v1
  // when the kernel gave the new group memory.limit_in_bytes, else v2).
  static Result<OwnedCgroup> createIn(const std::string& parent, const std::string& bot,
                                      const std::string& instance);
  // 8 hex digits naming one memvisord: FNV-1a of its bot socket's path.
  static std::string instanceTag(const std::string& bot_socket);
  // The group's directory name: "memvisor-<bot>-<instance>".
  static std::string name(const std::string& bot, const std::string& instance);
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
  // mkdir again when someone removed the group while no bot was in it (an operator, a
  // cgroup v1 release agent, a cleanup script): true when it was missing and is back, so the
  // caller writes its limit again.
  Result<bool> recreateIfMissing();
  const std::string& dir() const { return dir_; }
  sampling::CgroupVersion version() const { return version_; }

 private:
  OwnedCgroup(sampling::CgroupVersion v, std::string dir) : version_(v), dir_(std::move(dir)) {}
  sampling::CgroupVersion version_;
  std::string dir_;
};

}  // namespace memvisor::daemon
