// Who may speak for a bot on the bot socket: the supervised process or one of its
// descendants (SO_PEERCRED pid, walked up /proc ppids), or a configured uid in attach mode.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::daemon {

// True when `pid` is `ancestor` or descends from it. Reads /proc/PID/stat up the chain
// (at most 64 levels); a vanished process breaks the chain (false).
bool isSameOrDescendant(const sampling::SysPaths& paths, pid_t pid, pid_t ancestor);

}  // namespace memvisor::daemon
