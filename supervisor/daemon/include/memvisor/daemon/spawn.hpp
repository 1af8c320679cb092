// spawnProcess: fork/exec of a bot from its argv, env, cwd and user, as the leader of a new
// process group, optionally placed in a cgroup before it runs a single instruction of its own.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "memvisor/daemon/pidfd.hpp"
#include "memvisor/result.hpp"

namespace memvisor::daemon {

struct SpawnSpec {
  std::vector<std::string> argv;    // argv[0] is searched in PATH when it has no '/'
  // The complete environment, "KEY=value"; empty: memvisord's own with env_overrides on top,
  // merged at the spawn (a thousand bots do not each keep a copy of memvisord's environment).
  std::vector<std::string> env;
  std::vector<std::pair<std::string, std::string>> env_overrides;
  std::string cwd;                  // empty = inherit
  std::optional<std::string> user;  // run as this user (name or numeric uid); needs root
  std::string cgroup_procs_path;    // v1/v2 "cgroup.procs" to join before exec; empty = none
  bool stdin_null = true;           // stdin from /dev/null (a supervised bot reads no terminal)
};

struct SpawnedProcess {
  pid_t pid = 0;
  Pidfd pidfd;  // opened before the child can be reaped, so it is always the right process
};

// Forks and execs. Returns only once exec has succeeded or failed: a failure in the child
// (chdir, setuid, joining the cgroup, exec) comes back as an Error naming the step, and the
// child is reaped. Must be called from a single-threaded process (memvisord is).
Result<SpawnedProcess> spawnProcess(const SpawnSpec& spec);

// Our environment as "KEY=value" strings, with `overrides` set on top (same key replaced).
std::vector<std::string> mergeEnvironment(
    const std::vector<std::pair<std::string, std::string>>& overrides);

}  // namespace memvisor::daemon
