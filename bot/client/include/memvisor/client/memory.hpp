// The process's own memory figures as a C++ bot sees them: RSS from /proc/<self>/statm and
// the glibc heap from mallinfo2(); plus the default trim (malloc_trim). Parsers take text,
// readers take a proc root, so both are testable on fixture files.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "memvisor/proto/messages.hpp"
#include "memvisor/result.hpp"

namespace memvisor::client {

struct Statm {
  std::int64_t size_pages = 0;
  std::int64_t resident_pages = 0;
  std::int64_t shared_pages = 0;
};

// Parses the text of /proc/<pid>/statm ("size resident shared text lib data dt").
Result<Statm> parseStatm(std::string_view text);
// Reads <proc_root>/<pid>/statm; pid "self" reads our own.
Result<Statm> readStatm(const std::string& proc_root, std::string_view pid);
// Resident set in bytes of `pid` (reads statm), or an error with context.
Result<std::int64_t> readRssBytes(const std::string& proc_root, std::string_view pid);

// Heap figures from mallinfo2(), as PROTOCOL.md maps them for C++: heap_used = uordblks +
// hblkhd (bytes in use, including malloc's mmapped chunks), heap_total = arena + hblkhd;
// rss from statm (absent when unreadable). external_bytes is left to the bot (memory it
// manages outside malloc).
proto::MemFigures currentFigures(const std::string& proc_root = "/proc");

// malloc_trim(0) and nothing else; returns whether glibc reported releasing memory.
// (The caller measures what came back: glibc's return value is only a hint.)
bool trimHeap();

}  // namespace memvisor::client
