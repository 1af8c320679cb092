#include "memvisor/proto/framer.hpp"

namespace memvisor::proto {

void Framer::feed(std::string_view bytes) {
  if (failed_) return;
  // Compact before growing so a long-lived connection's buffer stays bounded.
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    scan_ -= pos_;
    pos_ = 0;
  }
  buf_.append(bytes.data(), bytes.size());
}

Framer::Status Framer::next(std::string& out) {
  while (true) {
    if (failed_) return Status::kTooLarge;
    const std::size_t nl = buf_.find('\n', scan_);
    if (nl == std::string::npos) {
      scan_ = buf_.size();
      // A line longer than the limit is rejected before its newline arrives: max_ bytes
      // may still be followed by the '\r' of a CRLF, nothing else.
      const std::size_t pending = buf_.size() - pos_;
      if (pending > max_ + 1 || (pending == max_ + 1 && buf_.back() != '\r')) {
        failed_ = true;
        buf_.clear();
        pos_ = scan_ = 0;
        return Status::kTooLarge;
      }
      return Status::kNeedMore;
    }
    std::size_t end = nl;
    if (end > pos_ && buf_[end - 1] == '\r') --end;
    const std::size_t len = end - pos_;
    const std::size_t start = pos_;
    pos_ = scan_ = nl + 1;
    if (len > max_) {
      failed_ = true;
      buf_.clear();
      pos_ = scan_ = 0;
      return Status::kTooLarge;
    }
    // Blank lines (or whitespace-only ones) are keep-alives: skip them.
    if (buf_.find_first_not_of(" \t\r", start) >= end) continue;
    out.assign(buf_, start, len);
    return Status::kFrame;
  }
}

bool Framer::feedFrames(std::string_view bytes,
                        const std::function<bool(const std::string&)>& on_frame) {
  feed(bytes);
  std::string frame;
  while (true) {
    const Status st = next(frame);
    if (st == Status::kNeedMore) return true;
    if (st == Status::kTooLarge) return false;
    if (!on_frame(frame)) return true;
  }
}

std::string Framer::tooLargeMessage() const {
  return "frame longer than " + std::to_string(max_) + " bytes";
}

}  // namespace memvisor::proto
