#include "workload.hpp"

#include <malloc.h>

#include <cstring>

namespace memvisor::bot {

namespace {
constexpr std::int64_t kLeakBlock = 4096;
constexpr std::int64_t kSpikeBlock = 64 * 1024;
constexpr int kBlocksPerPin = 8;
constexpr std::size_t kPinBytes = 64;

std::unique_ptr<char[]> touched(std::int64_t n) {
  auto p = std::make_unique<char[]>(static_cast<std::size_t>(n));
  std::memset(p.get(), 0x5a, static_cast<std::size_t>(n));
  return p;
}
}  // namespace

void Leak::grow(std::int64_t bytes) {
  while (bytes > 0) {
    const std::int64_t n = bytes < kLeakBlock ? bytes : kLeakBlock;
    blocks_.push_back(touched(n));
    bytes_ += n;
    bytes -= n;
  }
}

void Spike::hold(std::int64_t bytes) {
  while (bytes > 0) {
    const std::int64_t n = bytes < kSpikeBlock ? bytes : kSpikeBlock;
    blocks_.push_back(touched(n));
    bytes_ += n;
    bytes -= n;
  }
}

void Spike::release() {
  std::vector<std::unique_ptr<char[]>>().swap(blocks_);
  bytes_ = 0;
  // A spike is a burst the bot gives back when it ends. Its 64 KiB blocks come from the brk
  // heap, and whatever the bot allocated during the spike sits above them, so free() alone
  // leaves them resident (how much depends on the heap's layout that day): give the pages
  // back explicitly, so that the spike's end is seen by whoever watches RSS.
  ::malloc_trim(0);
}

void Fragmenter::build(std::int64_t bytes, std::int64_t block) {
  std::vector<std::unique_ptr<char[]>> blocks;
  blocks.reserve(static_cast<std::size_t>(bytes / block + 1));
  for (std::int64_t done = 0, i = 0; done < bytes; done += block, ++i) {
    blocks.push_back(touched(block));
    if (i % kBlocksPerPin == kBlocksPerPin - 1) pins_.push_back(touched(kPinBytes));
  }
  // `blocks` goes out of scope: its memory is free but stays resident until trimmed.
}

}  // namespace memvisor::bot
