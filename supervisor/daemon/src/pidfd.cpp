// pidfd syscalls through syscall(2): glibc 2.36's <sys/pidfd.h> lacks extern "C".
#include "memvisor/daemon/pidfd.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

namespace memvisor::daemon {

Pidfd::Pidfd(Pidfd&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), pid_(std::exchange(other.pid_, 0)) {}

Pidfd& Pidfd::operator=(Pidfd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
    pid_ = std::exchange(other.pid_, 0);
  }
  return *this;
}

Pidfd::~Pidfd() { reset(); }

void Pidfd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  pid_ = 0;
}

int Pidfd::release() {
  pid_ = 0;
  return std::exchange(fd_, -1);
}

Result<Pidfd> Pidfd::open(pid_t pid) {
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return errnoError(errno, "pidfd_open(" + std::to_string(pid) + ")");
  return Pidfd(static_cast<int>(fd), pid);
}

Result<void> pidfdSendSignal(int pidfd, int sig, bool group) {
  const unsigned flags = group ? PIDFD_SIGNAL_PROCESS_GROUP : 0U;
  if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, flags) == 0) return okResult();
  return errnoError(errno, std::string("pidfd_send_signal(") + sigabbrev_np(sig) +
                               (group ? ", process group)" : ")"));
}

bool pidfdExited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP)) != 0;
}

}  // namespace memvisor::daemon
