// Pidfd: an owned process file descriptor, so that a process is signalled and watched by
// identity rather than by a PID number the kernel may have reused.
#pragma once

#include <sys/types.h>

#include "memvisor/errno_error.hpp"
#include "memvisor/result.hpp"

namespace memvisor::daemon {

class Pidfd {
 public:
  Pidfd() = default;
  explicit Pidfd(int fd, pid_t pid) : fd_(fd), pid_(pid) {}
  Pidfd(Pidfd&& other) noexcept;
  Pidfd& operator=(Pidfd&& other) noexcept;
  Pidfd(const Pidfd&) = delete;
  Pidfd& operator=(const Pidfd&) = delete;
  ~Pidfd();

  // pidfd_open(2). Fails with code "esrch" when the process is gone.
  static Result<Pidfd> open(pid_t pid);

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  pid_t pid() const { return pid_; }
  // Gives up ownership of the descriptor (e.g. to an Asio descriptor object).
  int release();
  void reset();

 private:
  int fd_ = -1;
  pid_t pid_ = 0;
};

// pidfd_send_signal(2) to the process, or to its whole process group when `group` is true
// (the pidfd's process must lead that group). A gone process yields code "esrch".
Result<void> pidfdSendSignal(int pidfd, int sig, bool group);

// True when the process behind `pidfd` has exited (the pidfd polls readable).
bool pidfdExited(int pidfd);

// The errno as a stable Error code ("esrch", "eperm", ...) with a message: the one table.
using memvisor::errnoError;

}  // namespace memvisor::daemon
