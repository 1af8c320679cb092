// The errno code table (see errno_error.hpp).
#include "memvisor/errno_error.hpp"

#include <cerrno>
#include <cstring>

namespace memvisor {

std::string errnoCode(int err) {
  switch (err) {
    case ENOENT: return "enoent";
    case EACCES: return "eacces";
    case EPERM: return "eperm";
    case ESRCH: return "esrch";
    case ECHILD: return "echild";
    case EINVAL: return "einval";
    case EBUSY: return "ebusy";
    case ENOTDIR: return "enotdir";
    case EMFILE: return "emfile";
    case ENOMEM: return "enomem";
    case EROFS: return "erofs";
    case EBADF: return "ebadf";
    case ENOSYS: return "enosys";
    case EOPNOTSUPP: return "eopnotsupp";
    default: return "errno_" + std::to_string(err);
  }
}

Error errnoError(int err, const std::string& what) {
  return Error{errnoCode(err), what + ": " + std::strerror(err)};
}

}  // namespace memvisor
