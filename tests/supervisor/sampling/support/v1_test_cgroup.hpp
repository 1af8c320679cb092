// V1TestCgroup: a real cgroup v1 memory child group created under the test's own group (from
// /proc/self/cgroup), removed on destruction. ok() is false, with a reason, when the machine
// has no writable v1 memory hierarchy: tests then GTEST_SKIP() with that reason.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace memvisor::testing {

class V1TestCgroup {
 public:
  explicit V1TestCgroup(const std::string& cgroup_root = "/sys/fs/cgroup") {
    std::ifstream in("/proc/self/cgroup");
    std::string line, self;
    while (std::getline(in, line)) {
      auto c1 = line.find(':');
      auto c2 = line.find(':', c1 + 1);
      if (c1 == std::string::npos || c2 == std::string::npos) continue;
      std::string controllers = "," + line.substr(c1 + 1, c2 - c1 - 1) + ",";
      if (controllers.find(",memory,") != std::string::npos) self = line.substr(c2 + 1);
    }
    if (self.empty()) {
      reason_ = "no cgroup v1 memory hierarchy in /proc/self/cgroup";
      return;
    }
    parent_ = cgroup_root + "/memory" + (self == "/" ? "" : self);
    static std::atomic<int> counter{0};
    relative_ = (self == "/" ? "" : self) + "/memvisor-test-" + std::to_string(::getpid()) + "-" +
                std::to_string(counter++);
    dir_ = cgroup_root + "/memory" + relative_;
    if (::mkdir(dir_.c_str(), 0755) != 0) {
      reason_ = "cannot create " + dir_ + ": " + std::strerror(errno);
      dir_.clear();
      return;
    }
  }
  ~V1TestCgroup() {
    if (dir_.empty()) return;
    // Tasks must be gone (the tests kill and reap their children first); rmdir can race
    // with the exit of the last task for a moment.
    for (int i = 0; i < 50 && ::rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  V1TestCgroup(const V1TestCgroup&) = delete;
  V1TestCgroup& operator=(const V1TestCgroup&) = delete;

  [[nodiscard]] bool ok() const { return !dir_.empty(); }
  [[nodiscard]] const std::string& reason() const { return reason_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  // The path as /proc/PID/cgroup shows it.
  [[nodiscard]] const std::string& relative() const { return relative_; }

  bool write(const std::string& file, const std::string& value) const {
    std::ofstream out(dir_ + "/" + file);
    out << value;
    out.flush();
    return static_cast<bool>(out);
  }
  bool setLimit(std::uint64_t bytes) const {
    return write("memory.limit_in_bytes", std::to_string(bytes));
  }
  bool addProcess(pid_t pid) const { return write("cgroup.procs", std::to_string(pid)); }
  [[nodiscard]] std::uint64_t usage() const {
    std::ifstream in(dir_ + "/memory.usage_in_bytes");
    std::uint64_t v = 0;
    in >> v;
    return v;
  }
  void removeNow() {
    if (!dir_.empty() && ::rmdir(dir_.c_str()) == 0) dir_.clear();
  }

 private:
  std::string parent_;
  std::string relative_;
  std::string dir_;
  std::string reason_;
};

}  // namespace memvisor::testing
