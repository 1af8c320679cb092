// Where message payloads live. In the default "segments" layout, payloads are bump-allocated
// into 1 MiB mmap'd segments in arrival order, and a segment is unmapped the moment its last
// payload is freed: evicting messages by age frees whole segments, and the RSS goes back to
// the OS at once, whatever small long-lived objects (users, members, presences) the glibc
// heap holds next to them. The "heap" layout (one new[] per payload) is kept to measure the
// difference: there, small live objects interleaved with the payloads pin their pages and
// malloc_trim can only return the runs between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace memvisor::bot {

enum class PayloadLayout { kSegments, kHeap };

class PayloadArena;

struct Segment;

// An owned payload (move-only). Empty by default.
class Payload {
 public:
  Payload() = default;
  ~Payload() { reset(); }
  Payload(Payload&& o) noexcept { *this = std::move(o); }
  Payload& operator=(Payload&& o) noexcept;
  Payload(const Payload&) = delete;
  Payload& operator=(const Payload&) = delete;

  std::string_view view() const { return {data_, len_}; }
  std::size_t size() const { return len_; }
  void reset();

 private:
  friend class PayloadArena;
  char* data_ = nullptr;
  std::uint32_t len_ = 0;
  Segment* seg_ = nullptr;  // null: a heap block owned by this payload
};

class PayloadArena {
 public:
  explicit PayloadArena(PayloadLayout layout = PayloadLayout::kSegments, std::size_t segment_bytes = 1 << 20);
  ~PayloadArena();  // payloads must be gone first
  PayloadArena(const PayloadArena&) = delete;
  PayloadArena& operator=(const PayloadArena&) = delete;

  // Copies `bytes` into a new payload.
  Payload allocate(std::string_view bytes);

  PayloadLayout layout() const { return layout_; }
  std::int64_t mappedBytes() const { return mapped_bytes_; }
  std::int64_t segments() const { return segments_; }

 private:
  friend class Payload;
  friend struct Segment;
  Segment* newSegment(std::size_t bytes);
  void release(Segment* s);

  PayloadLayout layout_;
  std::size_t segment_bytes_;
  Segment* current_ = nullptr;
  std::int64_t mapped_bytes_ = 0;
  std::int64_t segments_ = 0;
};

}  // namespace memvisor::bot
