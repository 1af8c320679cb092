// cgroup v1 memory thresholds through cgroup.event_control and eventfds.
#include "memvisor/detection/v1_thresholds.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>

#include "errors.hpp"

namespace memvisor::detection {

struct V1ThresholdWatcher::Entry {
  Entry(boost::asio::io_context& io, std::uint64_t bytes) : fd(io), threshold(bytes) {}
  boost::asio::posix::stream_descriptor fd;
  std::uint64_t threshold;
  std::uint64_t counter = 0;  // eventfd reads are 8-byte counters
};

namespace {

// Closes an fd on scope exit unless released.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::shared_ptr<V1ThresholdWatcher>> V1ThresholdWatcher::create(
    boost::asio::io_context& io, const std::string& cgroup_dir,
    std::vector<std::uint64_t> thresholds, Callback callback) {
  std::sort(thresholds.begin(), thresholds.end());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  thresholds.erase(std::remove(thresholds.begin(), thresholds.end(), 0), thresholds.end());
  if (thresholds.empty()) return Error{"invalid", "no v1 memory thresholds to register"};

  const std::string control_path = cgroup_dir + "/cgroup.event_control";
  const std::string usage_path = cgroup_dir + "/memory.usage_in_bytes";
  FdGuard control{::open(control_path.c_str(), O_WRONLY | O_CLOEXEC)};
  if (control.fd < 0) return detail::errnoError(errno, "opening " + control_path);
  // The kernel resolves the usage file at registration; it need not stay open afterwards.
  FdGuard usage{::open(usage_path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (usage.fd < 0) return detail::errnoError(errno, "opening " + usage_path);

  std::shared_ptr<V1ThresholdWatcher> watcher(new V1ThresholdWatcher(cgroup_dir, std::move(callback)));
  for (std::uint64_t threshold : thresholds) {
    int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) return detail::errnoError(errno, "eventfd for " + cgroup_dir);
    // Owned by the entry from here on: closing it unregisters the threshold.
    auto entry = std::make_unique<Entry>(io, threshold);
    boost::system::error_code ec;
    entry->fd.assign(efd, ec);
    if (ec) {
      ::close(efd);
      watcher->stop();
      return Error{"asio", "registering eventfd with the event loop: " + ec.message()};
    }
    watcher->entries_.push_back(std::move(entry));
    std::string line = std::to_string(efd) + " " + std::to_string(usage.fd) + " " +
                       std::to_string(threshold);
    if (::write(control.fd, line.c_str(), line.size() + 1) < 0) {
      int err = errno;
      watcher->stop();
      return detail::errnoError(err, "registering threshold " + std::to_string(threshold) +
                                         " in " + control_path);
    }
  }
  for (std::size_t i = 0; i < watcher->entries_.size(); ++i) watcher->wait(i);
  return watcher;
}

V1ThresholdWatcher::V1ThresholdWatcher(std::string dir, Callback callback)
    : dir_(std::move(dir)), callback_(std::move(callback)) {}

V1ThresholdWatcher::~V1ThresholdWatcher() { stop(); }

void V1ThresholdWatcher::stop() {
  stopped_ = true;
  for (auto& entry : entries_) {
    boost::system::error_code ignored;
    entry->fd.close(ignored);
  }
}

void V1ThresholdWatcher::wait(std::size_t index) {
  Entry& entry = *entries_[index];
  entry.fd.async_read_some(
      boost::asio::buffer(&entry.counter, sizeof entry.counter),
      [self = shared_from_this(), index](const boost::system::error_code& ec, std::size_t) {
        if (ec || self->stopped_) return;  // aborted by stop(), or the fd broke: polling covers
        Event event;
        event.source = Source::kV1Threshold;
        event.threshold_bytes = self->entries_[index]->threshold;
        event.path = self->dir_ + "/memory.usage_in_bytes";
        // The kernel also signals every eventfd when the group is removed.
        event.gone = ::access(event.path.c_str(), F_OK) != 0;
        self->callback_(event);
        if (!event.gone && !self->stopped_) self->wait(index);
      });
}

}  // namespace memvisor::detection
