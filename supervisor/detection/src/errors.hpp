// Internal: errno to memvisor::Error for the detection watchers.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

#include "memvisor/result.hpp"

namespace memvisor::detection::detail {

inline std::string errnoCode(int err) {
  switch (err) {
    case ENOENT: return "enoent";
    case EACCES: return "eacces";
    case EPERM: return "eperm";
    case EINVAL: return "einval";
    case EBUSY: return "ebusy";
    case EMFILE: return "emfile";
    case ENOSYS: return "enosys";
    case EOPNOTSUPP: return "eopnotsupp";
    case EROFS: return "erofs";
    default: return "errno_" + std::to_string(err);
  }
}

inline Error errnoError(int err, const std::string& what) {
  return Error{errnoCode(err), what + ": " + std::strerror(err)};
}

}  // namespace memvisor::detection::detail
