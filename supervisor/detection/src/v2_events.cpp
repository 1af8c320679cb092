// cgroup v2 memory.events changes through inotify IN_MODIFY.
#include "memvisor/detection/v2_events.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <cstring>

#include "errors.hpp"

namespace memvisor::detection {

Result<std::shared_ptr<MemoryEventsWatcher>> MemoryEventsWatcher::create(
    boost::asio::io_context& io, const std::string& events_path, Callback callback) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return detail::errnoError(errno, "inotify_init1");
  if (::inotify_add_watch(fd, events_path.c_str(), IN_MODIFY | IN_DELETE_SELF) < 0) {
    int err = errno;
    ::close(fd);
    return detail::errnoError(err, "watching " + events_path);
  }
  std::shared_ptr<MemoryEventsWatcher> watcher(
      new MemoryEventsWatcher(io, events_path, std::move(callback)));
  boost::system::error_code ec;
  watcher->fd_.assign(fd, ec);
  if (ec) {
    ::close(fd);
    return Error{"asio", "registering inotify fd with the event loop: " + ec.message()};
  }
  watcher->wait();
  return watcher;
}

MemoryEventsWatcher::MemoryEventsWatcher(boost::asio::io_context& io, std::string path,
                                         Callback callback)
    : fd_(io), path_(std::move(path)), callback_(std::move(callback)) {}

MemoryEventsWatcher::~MemoryEventsWatcher() { stop(); }

void MemoryEventsWatcher::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  fd_.close(ignored);
}

void MemoryEventsWatcher::wait() {
  fd_.async_read_some(
      boost::asio::buffer(buffer_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (ec || self->stopped_) return;
        // One callback per batch of inotify records: the daemon re-reads memory.events anyway.
        bool modified = false, gone = false;
        std::size_t off = 0;
        while (off + sizeof(inotify_event) <= n) {
          inotify_event header;
          std::memcpy(&header, self->buffer_.data() + off, sizeof header);
          if (header.mask & IN_MODIFY) modified = true;
          if (header.mask & (IN_DELETE_SELF | IN_IGNORED)) gone = true;
          off += sizeof(inotify_event) + header.len;
        }
        if (modified || gone) {
          Event event;
          event.source = Source::kV2Events;
          event.path = self->path_;
          event.gone = gone;
          self->callback_(event);
        }
        if (!gone && !self->stopped_) self->wait();
      });
}

}  // namespace memvisor::detection
