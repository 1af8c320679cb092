// cgroup v1 memory thresholds through cgroup.event_control and eventfds.
#include "memvisor/detection/v1_thresholds.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>

#include "errors.hpp"

namespace memvisor::detection {

struct V1ThresholdWatcher::Entry {
  Entry(boost::asio::io_context& io, std::uint64_t bytes) : fd(io), threshold(bytes) {}
  boost::asio::posix::stream_descriptor fd;
  std::uint64_t threshold;
  std::uint64_t counter = 0;  // eventfd reads are 8-byte counters
};

// Closes an fd on scope exit unless released.
struct V1ThresholdWatcher::FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
  FdGuard(int f = -1) : fd(f) {}  // NOLINT(google-explicit-constructor)
  FdGuard(FdGuard&& o) noexcept : fd(o.fd) { o.fd = -1; }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
};

// Opens the group's files, makes one eventfd per threshold and registers each: everything a
// registration needs, so that a job queued on a registrar holds no fd until it runs. The
// eventfds come back to the loop; the control and usage files are closed here (the kernel
// resolved the usage file at registration). On error nothing stays registered.
namespace {
using FdGuard = V1ThresholdWatcher::FdGuard;

Result<std::vector<FdGuard>> registerThresholds(const std::string& cgroup_dir,
                                                const std::vector<std::uint64_t>& thresholds) {
  const std::string control_path = cgroup_dir + "/cgroup.event_control";
  const std::string usage_path = cgroup_dir + "/memory.usage_in_bytes";
  FdGuard control{::open(control_path.c_str(), O_WRONLY | O_CLOEXEC)};
  if (control.fd < 0) return detail::errnoError(errno, "opening " + control_path);
  FdGuard usage{::open(usage_path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (usage.fd < 0) return detail::errnoError(errno, "opening " + usage_path);
  std::vector<FdGuard> efds;
  efds.reserve(thresholds.size());
  for (std::uint64_t threshold : thresholds) {
    FdGuard efd{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    if (efd.fd < 0) return detail::errnoError(errno, "eventfd for " + cgroup_dir);
    std::string line = std::to_string(efd.fd) + " " + std::to_string(usage.fd) + " " +
                       std::to_string(threshold);
    if (::write(control.fd, line.c_str(), line.size() + 1) < 0) {
      return detail::errnoError(errno, "registering threshold " + std::to_string(threshold) +
                                           " in " + control_path);
    }
    efds.push_back(std::move(efd));
  }
  return efds;
}

}  // namespace

Result<std::shared_ptr<V1ThresholdWatcher>> V1ThresholdWatcher::create(
    boost::asio::io_context& io, const std::string& cgroup_dir,
    std::vector<std::uint64_t> thresholds, Callback callback, ThresholdRegistrar* registrar,
    ArmedCallback on_armed) {
  std::sort(thresholds.begin(), thresholds.end());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  thresholds.erase(std::remove(thresholds.begin(), thresholds.end(), 0), thresholds.end());
  if (thresholds.empty()) return Error{"invalid", "no v1 memory thresholds to register"};

  std::shared_ptr<V1ThresholdWatcher> watcher(
      new V1ThresholdWatcher(cgroup_dir, std::move(callback)));
  watcher->thresholds_ = thresholds;
  if (registrar == nullptr) {
    auto efds = registerThresholds(cgroup_dir, thresholds);
    if (!efds.ok()) return efds.error();
    if (auto r = watcher->adopt(io, std::move(efds).value()); !r.ok()) return r.error();
    return watcher;
  }
  registrar->submit([&io, dir = cgroup_dir, thresholds, weak = std::weak_ptr(watcher),
                     on_armed = std::move(on_armed)]() mutable {
    auto efds = std::make_shared<Result<std::vector<FdGuard>>>(registerThresholds(dir, thresholds));
    boost::asio::post(io, [&io, efds, weak, on_armed = std::move(on_armed)] {
      auto w = weak.lock();
      // Stopped meanwhile: the eventfds close with `efds`, and their thresholds with them.
      if (!w || w->stopped_) return;
      Result<void> outcome = efds->ok() ? w->adopt(io, std::move(*efds).value())
                                        : Result<void>(efds->error());
      if (!outcome.ok()) w->stop();
      if (on_armed) on_armed(outcome);
    });
  });
  return watcher;
}

Result<void> V1ThresholdWatcher::adopt(boost::asio::io_context& io, std::vector<FdGuard> efds) {
  for (std::size_t i = 0; i < efds.size() && i < thresholds_.size(); ++i) {
    // Owned by the entry from here on: closing it unregisters the threshold.
    auto entry = std::make_unique<Entry>(io, thresholds_[i]);
    boost::system::error_code ec;
    entry->fd.assign(efds[i].fd, ec);
    if (ec) {
      stop();
      return Error{"asio", "registering eventfd with the event loop: " + ec.message()};
    }
    efds[i].fd = -1;
    entries_.push_back(std::move(entry));
  }
  armed_ = true;
  for (std::size_t i = 0; i < entries_.size(); ++i) wait(i);
  return {};
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
