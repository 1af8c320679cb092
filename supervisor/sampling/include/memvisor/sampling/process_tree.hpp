// The process tree of a bot (bots fork shards and workers): children from
// /proc/PID/task/*/children when the kernel has it, else a scan of /proc/*/stat ppids.
#pragma once

#include <sys/types.h>

#include <string_view>
#include <vector>

#include "memvisor/result.hpp"
#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::sampling {

// "123 456 " -> {123, 456}. Error code "parse" on a non-numeric token.
Result<std::vector<pid_t>> parseChildrenList(std::string_view text);

// Every numeric entry of paths.proc_root (unsorted); empty when it cannot be read.
std::vector<pid_t> listPids(const SysPaths& paths);

// Direct children of pid. Vanishing tasks and pids are normal and skipped.
// Error code "gone" when pid itself does not exist.
Result<std::vector<pid_t>> listChildren(const SysPaths& paths, pid_t pid);

// Root first, then descendants breadth-first. Error code "gone" when root does not exist.
Result<std::vector<pid_t>> listProcessTree(const SysPaths& paths, pid_t root);

// Children by a full /proc scan of ppid fields (the fallback; exposed for tests).
std::vector<pid_t> listChildrenByScan(const SysPaths& paths, pid_t pid);

}  // namespace memvisor::sampling
