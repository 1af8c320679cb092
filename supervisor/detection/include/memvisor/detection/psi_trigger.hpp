// PSI triggers: "some|full <stall_us> <window_us>" written to a cgroup2 memory.pressure or
// /proc/pressure/memory, then poll for POLLPRI. Here (no CAP_SYS_RESOURCE in effect) windows
// must be whole multiples of 2 s between 2 and 10 s: normalizePsiTrigger() enforces it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "memvisor/detection/event.hpp"
#include "memvisor/result.hpp"

namespace memvisor::detection {

enum class PsiKind { kSome, kFull };

struct PsiTriggerSpec {
  PsiKind kind = PsiKind::kSome;
  std::chrono::microseconds stall{150'000};
  std::chrono::microseconds window{2'000'000};
};

inline constexpr std::chrono::microseconds kPsiWindowStep{2'000'000};
inline constexpr std::chrono::microseconds kPsiWindowMin{2'000'000};
inline constexpr std::chrono::microseconds kPsiWindowMax{10'000'000};

// Rounds the window UP to a multiple of 2 s and clamps it to 2..10 s; the stall must be
// positive and is capped at the window. Error code "invalid" when stall <= 0.
// `note` (optional) receives what was changed, e.g. "window 1000000us rounded to 2000000us".
Result<PsiTriggerSpec> normalizePsiTrigger(PsiTriggerSpec spec, std::string* note = nullptr);
// "some 150000 2000000"
std::string formatPsiTrigger(const PsiTriggerSpec& spec);

class PsiTrigger : public std::enable_shared_from_this<PsiTrigger> {
 public:
  // Normalises spec, opens <pressure_path> read-write, writes the trigger and waits for
  // POLLPRI. Error codes: "invalid" (spec), "einval"/"eacces"/"enoent"... from the kernel.
  static Result<std::shared_ptr<PsiTrigger>> create(boost::asio::io_context& io,
                                                    const std::string& pressure_path,
                                                    PsiTriggerSpec spec, Callback callback);
  ~PsiTrigger();
  void stop();  // closing the fd destroys the trigger; idempotent
  [[nodiscard]] const PsiTriggerSpec& spec() const { return spec_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  PsiTrigger(boost::asio::io_context& io, std::string path, PsiTriggerSpec spec,
             Callback callback);
  void wait();

  boost::asio::posix::stream_descriptor fd_;
  std::string path_;
  PsiTriggerSpec spec_;
  Callback callback_;
  bool stopped_ = false;
};

}  // namespace memvisor::detection
