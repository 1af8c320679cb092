// Stream framer for newline-delimited frames: feed it bytes as they arrive (partial reads,
// several frames per read), take complete frames out. CRLF is accepted, blank lines are
// skipped, and a line longer than the limit is reported once, after which the framer stays
// failed (the connection is to be closed). No allocation beyond limit + one read.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "memvisor/proto/messages.hpp"

namespace memvisor::proto {

class Framer {
 public:
  enum class Status { kFrame, kNeedMore, kTooLarge };

  explicit Framer(std::size_t max_frame = kMaxFrameBytes) : max_(max_frame) {}

  // Appends received bytes.
  void feed(std::string_view bytes);
  // Takes the next complete frame into `out` (kFrame), or reports kNeedMore, or kTooLarge
  // when a line exceeds the limit (sticky).
  Status next(std::string& out);
  // The read loop every connection runs on what it received (bot session, control session,
  // bot client): feeds `bytes`, then hands each complete frame to `on_frame` for as long as it
  // returns true (false: the connection is closing, stop taking frames). Returns false when a
  // line exceeded the limit: the caller answers frame_too_large (tooLargeMessage) and closes.
  bool feedFrames(std::string_view bytes, const std::function<bool(const std::string&)>& on_frame);
  // "frame longer than 65536 bytes"
  std::string tooLargeMessage() const;
  bool failed() const { return failed_; }
  std::size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  std::size_t pos_ = 0;   // start of unconsumed data
  std::size_t scan_ = 0;  // where the newline search resumes
  std::size_t max_;
  bool failed_ = false;
};

}  // namespace memvisor::proto
