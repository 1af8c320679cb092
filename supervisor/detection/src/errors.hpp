// Internal: errno to memvisor::Error for the detection watchers (the one table in
// memvisor/errno_error.hpp).
#pragma once

#include "memvisor/errno_error.hpp"

namespace memvisor::detection::detail {

using memvisor::errnoCode;
using memvisor::errnoError;

}  // namespace memvisor::detection::detail
