// PSI triggers: write "some|full <stall_us> <window_us>", then wait for POLLPRI.
#include "memvisor/detection/psi_trigger.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "errors.hpp"

namespace memvisor::detection {

using std::chrono::microseconds;

Result<PsiTriggerSpec> normalizePsiTrigger(PsiTriggerSpec spec, std::string* note) {
  if (spec.stall <= microseconds::zero()) {
    return Error{"invalid", "PSI stall must be positive, got " + std::to_string(spec.stall.count()) + "us"};
  }
  std::string changes;
  auto add = [&](const std::string& what) {
    if (!changes.empty()) changes += ", ";
    changes += what;
  };
  microseconds window = spec.window;
  // Round up: a longer window only makes the trigger less eager, never refused.
  if (window % kPsiWindowStep != microseconds::zero()) {
    window = (window / kPsiWindowStep + 1) * kPsiWindowStep;
  }
  if (window < kPsiWindowMin) window = kPsiWindowMin;
  if (window > kPsiWindowMax) window = kPsiWindowMax;
  if (window != spec.window) {
    add("window " + std::to_string(spec.window.count()) + "us rounded to " +
        std::to_string(window.count()) + "us (multiples of 2 s, 2-10 s)");
  }
  microseconds stall = spec.stall;
  if (stall > window) {
    stall = window;
    add("stall " + std::to_string(spec.stall.count()) + "us capped at the window");
  }
  if (note != nullptr) *note = changes;
  return PsiTriggerSpec{spec.kind, stall, window};
}

std::string formatPsiTrigger(const PsiTriggerSpec& spec) {
  return std::string(spec.kind == PsiKind::kSome ? "some " : "full ") +
         std::to_string(spec.stall.count()) + " " + std::to_string(spec.window.count());
}

Result<std::shared_ptr<PsiTrigger>> PsiTrigger::create(boost::asio::io_context& io,
                                                       const std::string& pressure_path,
                                                       PsiTriggerSpec spec, Callback callback) {
  auto normalized = normalizePsiTrigger(spec);
  if (!normalized.ok()) return normalized.error();
  int fd = ::open(pressure_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return detail::errnoError(errno, "opening " + pressure_path);
  std::string trigger = formatPsiTrigger(*normalized);
  // The kernel expects the terminating NUL (Documentation/accounting/psi.rst).
  if (::write(fd, trigger.c_str(), trigger.size() + 1) < 0) {
    int err = errno;
    ::close(fd);
    return detail::errnoError(err, "writing trigger '" + trigger + "' to " + pressure_path);
  }
  std::shared_ptr<PsiTrigger> psi(
      new PsiTrigger(io, pressure_path, *normalized, std::move(callback)));
  boost::system::error_code ec;
  psi->fd_.assign(fd, ec);
  if (ec) {
    ::close(fd);
    return Error{"asio", "registering " + pressure_path + " with the event loop: " + ec.message()};
  }
  psi->wait();
  return psi;
}

PsiTrigger::PsiTrigger(boost::asio::io_context& io, std::string path, PsiTriggerSpec spec,
                       Callback callback)
    : fd_(io), path_(std::move(path)), spec_(spec), callback_(std::move(callback)) {}

PsiTrigger::~PsiTrigger() { stop(); }

void PsiTrigger::stop() {
  stopped_ = true;
  boost::system::error_code ignored;
  fd_.close(ignored);
}

void PsiTrigger::wait() {
  // wait_error maps to EPOLLPRI in Asio's epoll reactor: the PSI event.
  fd_.async_wait(boost::asio::posix::stream_descriptor::wait_error,
                 [self = shared_from_this()](const boost::system::error_code& ec) {
                   if (ec || self->stopped_) return;
                   Event event;
                   event.source = Source::kPsi;
                   event.path = self->path_;
                   // A removed cgroup raises POLLERR forever: stop instead of spinning.
                   event.gone = ::access(self->path_.c_str(), F_OK) != 0;
                   self->callback_(event);
                   if (!event.gone && !self->stopped_) self->wait();
                 });
}

}  // namespace memvisor::detection
