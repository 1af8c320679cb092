#include "memvisor/client/memory.hpp"

#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace memvisor::client {

Result<Statm> parseStatm(std::string_view text) {
  std::int64_t v[3] = {0, 0, 0};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    auto [q, ec] = std::from_chars(p, end, v[i]);
    if (ec != std::errc() || v[i] < 0) {
      return Error{"bad_statm", "field " + std::to_string(i + 1) + " is not a page count in '" +
                                    std::string(text.substr(0, 64)) + "'"};
    }
    p = q;
  }
  return Statm{v[0], v[1], v[2]};
}

Result<Statm> readStatm(const std::string& proc_root, std::string_view pid) {
  const std::string path = proc_root + "/" + std::string(pid) + "/statm";
  std::ifstream in(path);
  if (!in) return Error{"enoent", std::string("reading ") + path + ": " + std::strerror(errno)};
  std::string text;
  std::getline(in, text);
  auto r = parseStatm(text);
  if (!r) return r.error().wrap("reading " + path);
  return r;
}

Result<std::int64_t> readRssBytes(const std::string& proc_root, std::string_view pid) {
  auto s = readStatm(proc_root, pid);
  if (!s) return s.error();
  return s->resident_pages * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

proto::MemFigures currentFigures(const std::string& proc_root) {
  proto::MemFigures f;
  if (auto rss = readRssBytes(proc_root, "self")) f.rss_bytes = *rss;
  const struct mallinfo2 mi = mallinfo2();
  // The mapping PROTOCOL.md gives for C++ bots.
  f.heap_used_bytes = static_cast<std::int64_t>(mi.uordblks + mi.hblkhd);
  f.heap_total_bytes = static_cast<std::int64_t>(mi.arena + mi.hblkhd);
  return f;
}

bool trimHeap() { return malloc_trim(0) != 0; }

}  // namespace memvisor::client
