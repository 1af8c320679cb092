// Memory outside the caches, for the test modes: a leak (retained forever), a spike
// (a temporary burst) and a deliberately fragmented heap.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace memvisor::bot {

// Touched heap blocks that are never freed: nothing but a restart reclaims them.
class Leak {
 public:
  void grow(std::int64_t bytes);
  std::int64_t bytes() const { return bytes_; }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::int64_t bytes_ = 0;
};

// A burst of touched 64 KiB heap blocks (below glibc's mmap threshold, like a large parse),
// held until release(). After release the RSS stays up until trimmed, unless the burst sat
// at the top of the heap (glibc trims the top by itself).
class Spike {
 public:
  void hold(std::int64_t bytes);
  void release();
  std::int64_t bytes() const { return bytes_; }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::int64_t bytes_ = 0;
};

// Builds a fragmented heap: `bytes` of `block`-sized blocks with a small long-lived "pin"
// allocated after every 8 blocks, then frees the blocks. RSS stays up (freeing alone never
// lowers RSS); with 4 KiB blocks the free runs span whole pages and malloc_trim gives them
// back; with 256-byte blocks the runs are 2 KiB and nothing comes back.
class Fragmenter {
 public:
  void build(std::int64_t bytes, std::int64_t block);
  std::int64_t pins() const { return static_cast<std::int64_t>(pins_.size()); }

 private:
  std::vector<std::unique_ptr<char[]>> pins_;
};

}  // namespace memvisor::bot
