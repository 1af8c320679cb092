#include "payload_arena.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <new>

namespace memvisor::bot {

struct Segment {
  char* base = nullptr;
  std::size_t size = 0;
  std::size_t used = 0;
  std::size_t live = 0;
  PayloadArena* arena = nullptr;
};

namespace {
std::size_t pageRound(std::size_t n) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}
}  // namespace

Payload& Payload::operator=(Payload&& o) noexcept {
  if (this != &o) {
    reset();
    data_ = o.data_;
    len_ = o.len_;
    seg_ = o.seg_;
    o.data_ = nullptr;
    o.len_ = 0;
    o.seg_ = nullptr;
  }
  return *this;
}

void Payload::reset() {
  if (seg_) {
    seg_->arena->release(seg_);
  } else {
    delete[] data_;
  }
  data_ = nullptr;
  len_ = 0;
  seg_ = nullptr;
}

PayloadArena::PayloadArena(PayloadLayout layout, std::size_t segment_bytes)
    : layout_(layout), segment_bytes_(pageRound(segment_bytes)) {}

PayloadArena::~PayloadArena() {
  if (current_ && current_->live == 0) {
    ::munmap(current_->base, current_->size);
    delete current_;
  }
}

Segment* PayloadArena::newSegment(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  mapped_bytes_ += static_cast<std::int64_t>(bytes);
  ++segments_;
  auto* s = new Segment;
  s->base = static_cast<char*>(p);
  s->size = bytes;
  s->arena = this;
  return s;
}

void PayloadArena::release(Segment* s) {
  --s->live;
  if (s->live == 0 && s == current_) {
    s->used = 0;  // nothing left in it: start over instead of mapping a new segment
  } else if (s->live == 0) {
    ::munmap(s->base, s->size);
    mapped_bytes_ -= static_cast<std::int64_t>(s->size);
    --segments_;
    delete s;
  }
}

Payload PayloadArena::allocate(std::string_view bytes) {
  Payload p;
  p.len_ = static_cast<std::uint32_t>(bytes.size());
  if (layout_ == PayloadLayout::kHeap) {
    p.data_ = new char[bytes.size()];
    std::memcpy(p.data_, bytes.data(), bytes.size());
    return p;
  }
  // Keep payloads 16-byte aligned, as malloc would.
  const std::size_t need = (bytes.size() + 15) & ~std::size_t{15};
  Segment* s = nullptr;
  if (need > segment_bytes_ / 4) {
    s = newSegment(pageRound(need));  // a payload of its own, unmapped when freed
  } else {
    if (!current_ || current_->used + need > current_->size) {
      Segment* old = current_;
      current_ = newSegment(segment_bytes_);
      if (old && old->live == 0) {
        ::munmap(old->base, old->size);
        mapped_bytes_ -= static_cast<std::int64_t>(old->size);
        --segments_;
        delete old;
      }
    }
    s = current_;
  }
  p.data_ = s->base + s->used;
  s->used += need;
  ++s->live;
  std::memcpy(p.data_, bytes.data(), bytes.size());
  p.seg_ = s;
  return p;
}

}  // namespace memvisor::bot
