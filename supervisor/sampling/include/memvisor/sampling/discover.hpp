// Finding an attached bot that memvisord did not start: by the pid in its pidfile, or by a
// pattern over /proc/PID/cmdline. Both read below a SysPaths root (fixture trees in tests).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::sampling {

// " 1234\n" -> 1234; nullopt for anything but one positive decimal number.
std::optional<pid_t> parsePidText(std::string_view text);

// The pid written in `pidfile`, if that process exists (below paths.proc_root) and is not a
// zombie.
std::optional<pid_t> findByPidfile(const SysPaths& paths, const std::string& pidfile);

// The lowest pid whose cmdline (NULs as spaces) matches the ECMAScript regex `pattern`,
// skipping `self` (memvisord's own pid: its argv may contain the pattern) and kernel
// threads. nullopt on no match, or on a pattern the regex engine rejects or gives up on.
std::optional<pid_t> findByCmdline(const SysPaths& paths, const std::string& pattern, pid_t self);

}  // namespace memvisor::sampling
