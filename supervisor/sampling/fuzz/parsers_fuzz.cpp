// libFuzzer target for every parser of kernel text memvisord reads: /proc/PID/{statm,status,
// stat,smaps_rollup,cgroup,task/*/children}, /proc/meminfo, /proc/self/mountinfo, PSI
// (pressure files), cgroup v1 (memory.stat, memory.oom_control, limits) and v2
// (memory.stat, memory.events, memory.max). Each input goes to all of them: the files share
// a grammar (key/value lines, number lists), so what one seed teaches helps the others. A
// crash, a sanitizer report or an Error without code or message is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "memvisor/sampling/cgroup.hpp"
#include "memvisor/sampling/cgroup_memory.hpp"
#include "memvisor/sampling/meminfo.hpp"
#include "memvisor/sampling/pressure.hpp"
#include "memvisor/sampling/process_files.hpp"
#include "memvisor/sampling/process_tree.hpp"

namespace {

using namespace memvisor::sampling;

template <typename T>
void check(const memvisor::Result<T>& r, const char* parser) {
  if (r.ok()) return;
  if (r.error().code.empty() || r.error().message.empty()) {
    std::fprintf(stderr, "invariant broken: %s returned an error without code or message\n",
                 parser);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(parseStatm(text, 4096), "parseStatm");
  check(parseStatus(text), "parseStatus");
  check(parseStat(text), "parseStat");
  check(parseSmapsRollup(text), "parseSmapsRollup");
  check(parseChildrenList(text), "parseChildrenList");
  check(parseProcCgroup(text), "parseProcCgroup");
  check(parseV1MemoryStat(text), "parseV1MemoryStat");
  check(parseV2MemoryStat(text), "parseV2MemoryStat");
  check(parseV2MemoryEvents(text), "parseV2MemoryEvents");
  check(parseV1OomControl(text), "parseV1OomControl");
  check(parseV1Limit(text), "parseV1Limit");
  check(parseV2Limit(text), "parseV2Limit");
  check(parseU64File(text), "parseU64File");
  check(parsePressure(text), "parsePressure");
  check(parseMeminfo(text), "parseMeminfo");
  (void)parseMountInfo(text);
  return 0;
}
