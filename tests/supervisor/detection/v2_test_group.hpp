// V2TestGroup: a real cgroup2 group created under this process's own (from the "0::" line of
// /proc/self/cgroup), removed on destruction. Here the cgroup2 hierarchy has no memory
// controller but carries memory.pressure, so PSI triggers are tested on it for real.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

namespace memvisor::testing {

class V2TestGroup {
 public:
  V2TestGroup() {
    std::string root;
    for (const char* candidate : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
      if (::access((std::string(candidate) + "/cgroup.controllers").c_str(), F_OK) == 0) {
        root = candidate;
        break;
      }
    }
    if (root.empty()) {
      reason_ = "no cgroup2 mount under /sys/fs/cgroup";
      return;
    }
    std::ifstream self("/proc/self/cgroup");
    std::string line, rel;
    while (std::getline(self, line)) {
      if (line.rfind("0::", 0) == 0) rel = line.substr(3);
    }
    static std::atomic<int> counter{0};
    std::string dir = root + (rel == "/" ? "" : rel) + "/memvisor-test-" +
                      std::to_string(::getpid()) + "-" + std::to_string(counter++);
    if (::mkdir(dir.c_str(), 0755) != 0) {
      reason_ = "cannot create cgroup2 group " + dir + ": " + std::strerror(errno);
      return;
    }
    dir_ = dir;
    if (::access((dir_ + "/memory.pressure").c_str(), F_OK) != 0) {
      reason_ = dir_ + " has no memory.pressure (PSI disabled)";
    }
  }
  ~V2TestGroup() {
    if (dir_.empty()) return;
    for (int i = 0; i < 50 && ::rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  V2TestGroup(const V2TestGroup&) = delete;
  V2TestGroup& operator=(const V2TestGroup&) = delete;

  // Usable for PSI: created and carrying memory.pressure.
  [[nodiscard]] bool ok() const { return !dir_.empty() && reason_.empty(); }
  [[nodiscard]] const std::string& reason() const { return reason_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] std::string pressurePath() const { return dir_ + "/memory.pressure"; }
  bool addProcess(pid_t pid) const {
    std::ofstream out(dir_ + "/cgroup.procs");
    out << pid;
    out.flush();
    return static_cast<bool>(out);
  }

 private:
  std::string dir_;
  std::string reason_;
};

}  // namespace memvisor::testing
