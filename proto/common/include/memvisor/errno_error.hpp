// errno as a memvisor::Error: one stable code table for every library that makes syscalls
// (sampling, detection, the daemon), so the same failure has the same code everywhere.
#pragma once

#include <string>

#include "memvisor/result.hpp"

namespace memvisor {

// "enoent", "eacces", "esrch", ... (a stable code for an errno), "errno_<n>" otherwise.
std::string errnoCode(int err);
// Error{errnoCode(err), "<what>: <strerror>"}.
Error errnoError(int err, const std::string& what);

}  // namespace memvisor
