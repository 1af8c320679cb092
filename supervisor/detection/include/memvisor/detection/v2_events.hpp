// cgroup v2 memory.events changes through inotify (cgroupfs raises IN_MODIFY when a counter
// moves: high, max, oom, oom_kill).
#pragma once

#include <array>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "memvisor/detection/event.hpp"
#include "memvisor/result.hpp"

namespace memvisor::detection {

class MemoryEventsWatcher : public std::enable_shared_from_this<MemoryEventsWatcher> {
 public:
  // Watches <events_path> (normally <cgroup_dir>/memory.events; any file works). Error codes
  // from inotify_init1/inotify_add_watch ("enoent", "eacces", ...).
  static Result<std::shared_ptr<MemoryEventsWatcher>> create(boost::asio::io_context& io,
                                                             const std::string& events_path,
                                                             Callback callback);
  ~MemoryEventsWatcher();
  void stop();  // idempotent
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  MemoryEventsWatcher(boost::asio::io_context& io, std::string path, Callback callback);
  void wait();

  boost::asio::posix::stream_descriptor fd_;
  std::string path_;
  Callback callback_;
  std::array<char, 4096> buffer_{};
  bool stopped_ = false;
};

}  // namespace memvisor::detection
