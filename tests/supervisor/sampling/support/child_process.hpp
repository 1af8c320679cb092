// AllocatorChild: a real forked process that allocates and touches memory on command, so tests
// watch RSS, cgroups and thresholds move for real. Killed and reaped on destruction.
#pragma once

#include <signal.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace memvisor::testing {

class AllocatorChild {
 public:
  AllocatorChild() {
    int to_child[2], to_parent[2];
    if (::pipe(to_child) != 0 || ::pipe(to_parent) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ < 0) std::abort();
    if (pid_ == 0) {
      ::close(to_child[1]);
      ::close(to_parent[0]);
      serve(to_child[0], to_parent[1]);
    }
    ::close(to_child[0]);
    ::close(to_parent[1]);
    cmd_ = to_child[1];
    ack_ = to_parent[0];
  }
  ~AllocatorChild() {
    ::close(cmd_);
    ::close(ack_);
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  AllocatorChild(const AllocatorChild&) = delete;
  AllocatorChild& operator=(const AllocatorChild&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }

  // Allocates and touches `mib` more MiB; true when the child confirmed. False when it died
  // (e.g. OOM-killed by a cgroup limit) before confirming.
  bool grow(std::uint32_t mib) {
    if (::write(cmd_, &mib, sizeof mib) != sizeof mib) return false;
    char ok = 0;
    return ::read(ack_, &ok, 1) == 1 && ok == 'k';
  }

  // Waits for the child to exit; returns the raw wait status.
  int reap() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }

 private:
  [[noreturn]] static void serve(int cmd, int ack) {
    std::uint32_t mib = 0;
    while (::read(cmd, &mib, sizeof mib) == sizeof mib) {
      std::size_t bytes = std::size_t{mib} << 20;
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) ::_exit(3);
      std::memset(p, 0x5a, bytes);  // touch every page: RSS, not just VmSize
      char ok = 'k';
      if (::write(ack, &ok, 1) != 1) ::_exit(4);
    }
    ::_exit(0);
  }

  pid_t pid_ = -1;
  int cmd_ = -1;
  int ack_ = -1;
  bool reaped_ = false;
};

}  // namespace memvisor::testing
