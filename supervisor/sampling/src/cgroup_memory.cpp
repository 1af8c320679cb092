// cgroup v1 and v2 memory accounting files, normalised into CgroupMemory.
#include "memvisor/sampling/cgroup_memory.hpp"

#include <unordered_map>

#include "text.hpp"

namespace memvisor::sampling {
namespace {

// "key value" lines into a map; a malformed value is an error naming the key.
Result<std::unordered_map<std::string, std::uint64_t>> parseFlatKeyed(std::string_view text,
                                                                      const char* file) {
  std::unordered_map<std::string, std::uint64_t> out;
  std::optional<Error> error;
  detail::forEachLine(text, [&](std::string_view line) {
    if (error || detail::trim(line).empty()) return;
    std::string_view key, value;
    if (!detail::splitKeyValue(line, key, value)) {
      error = detail::parseError(std::string(file) + ": bad line '" + std::string(line) + "'");
      return;
    }
    auto v = detail::toU64(value);
    if (!v) {
      error = detail::parseError(std::string(file) + ": bad value for " + std::string(key));
      return;
    }
    out.emplace(std::string(key), *v);
  });
  if (error) return *error;
  return out;
}

Result<MemoryStat> pickStat(std::string_view text, const char* anon, const char* file,
                            const char* inactive_file) {
  // memory.stat has ~40-60 keys and is read every tick: scan for the three we need instead of
  // building a map of all of them.
  MemoryStat out;
  struct Want {
    const char* key;
    std::uint64_t* into;
    bool found;
  } wants[] = {{anon, &out.anon_bytes, false}, {file, &out.file_bytes, false},
               {inactive_file, &out.inactive_file_bytes, false}};
  std::optional<Error> error;
  detail::forEachLine(text, [&](std::string_view line) {
    if (error) return;
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return;
    std::string_view key = line.substr(0, sp);
    for (auto& want : wants) {
      if (want.found || key != want.key) continue;
      auto v = detail::toU64(detail::trim(line.substr(sp + 1)));
      if (!v) {
        error = detail::parseError("memory.stat: bad value for " + std::string(key));
        return;
      }
      *want.into = *v;
      want.found = true;
    }
  });
  if (error) return *error;
  for (const auto& want : wants) {
    if (!want.found) return detail::missingField(std::string(want.key) + " in memory.stat");
  }
  return out;
}

// Reads <dir>/<name> and parses it with fn, prefixing errors with the path.
template <typename Fn>
auto readWith(const std::string& dir, const char* name, Fn&& fn) -> decltype(fn("")) {
  std::string path = dir + "/" + name;
  auto text = detail::readFile(path);
  if (!text.ok()) return text.error();
  auto parsed = fn(*text);
  if (!parsed.ok()) return parsed.error().wrap("reading " + path);
  return parsed;
}

constexpr std::uint64_t kV1UnlimitedFloor = std::uint64_t{1} << 62;

}  // namespace

Result<MemoryStat> parseV2MemoryStat(std::string_view text) {
  return pickStat(text, "anon", "file", "inactive_file");
}

Result<MemoryStat> parseV1MemoryStat(std::string_view text) {
  return pickStat(text, "total_rss", "total_cache", "total_inactive_file");
}

Result<MemoryEvents> parseV2MemoryEvents(std::string_view text) {
  auto kv = parseFlatKeyed(text, "memory.events");
  if (!kv.ok()) return kv.error();
  MemoryEvents out;
  auto get = [&](const char* key) {
    auto it = kv->find(key);
    return it == kv->end() ? std::uint64_t{0} : it->second;
  };
  out.low = get("low");
  out.high = get("high");
  out.max = get("max");
  out.oom = get("oom");
  out.oom_kill = get("oom_kill");
  out.oom_group_kill = get("oom_group_kill");
  return out;
}

Result<OomControl> parseV1OomControl(std::string_view text) {
  auto kv = parseFlatKeyed(text, "memory.oom_control");
  if (!kv.ok()) return kv.error();
  OomControl out;
  auto it = kv->find("oom_kill_disable");
  if (it == kv->end()) return detail::missingField("oom_kill_disable in memory.oom_control");
  out.oom_kill_disable = it->second != 0;
  it = kv->find("under_oom");
  if (it != kv->end()) out.under_oom = it->second != 0;
  it = kv->find("oom_kill");
  if (it != kv->end()) out.oom_kill = it->second;
  return out;
}

Result<std::uint64_t> parseU64File(std::string_view text) {
  auto v = detail::toU64(detail::trim(text));
  if (!v) return detail::parseError("not a number: '" + std::string(detail::trim(text)) + "'");
  return *v;
}

Result<std::optional<std::uint64_t>> parseV2Limit(std::string_view text) {
  if (detail::trim(text) == "max") return std::optional<std::uint64_t>{};
  auto v = parseU64File(text);
  if (!v.ok()) return v.error();
  return std::optional<std::uint64_t>{*v};
}

Result<std::optional<std::uint64_t>> parseV1Limit(std::string_view text) {
  auto v = parseU64File(text);
  if (!v.ok()) return v.error();
  if (*v >= kV1UnlimitedFloor) return std::optional<std::uint64_t>{};
  return std::optional<std::uint64_t>{*v};
}

std::uint64_t workingSet(std::uint64_t usage_bytes, std::uint64_t inactive_file_bytes) {
  return usage_bytes > inactive_file_bytes ? usage_bytes - inactive_file_bytes : 0;
}

Result<CgroupMemory> readCgroupV1Memory(const std::string& dir) {
  CgroupMemory out;
  out.version = CgroupVersion::kV1;
  out.dir = dir;
  auto usage = readWith(dir, "memory.usage_in_bytes", parseU64File);
  if (!usage.ok()) return usage.error();
  out.usage_bytes = *usage;
  auto limit = readWith(dir, "memory.limit_in_bytes", parseV1Limit);
  if (!limit.ok()) return limit.error();
  out.limit_bytes = *limit;
  auto stat = readWith(dir, "memory.stat", parseV1MemoryStat);
  if (!stat.ok()) return stat.error();
  out.stat = *stat;
  out.working_set_bytes = workingSet(out.usage_bytes, out.stat.inactive_file_bytes);
  auto oom = readWith(dir, "memory.oom_control", parseV1OomControl);
  if (!oom.ok()) return oom.error();
  out.oom_kill_count = oom->oom_kill;
  auto failcnt = readWith(dir, "memory.failcnt", parseU64File);
  if (!failcnt.ok()) return failcnt.error();
  out.failcnt = *failcnt;
  return out;
}

Result<CgroupMemory> readCgroupV2Memory(const std::string& dir) {
  CgroupMemory out;
  out.version = CgroupVersion::kV2;
  out.dir = dir;
  auto usage = readWith(dir, "memory.current", parseU64File);
  if (!usage.ok()) return usage.error();
  out.usage_bytes = *usage;
  auto limit = readWith(dir, "memory.max", parseV2Limit);
  if (!limit.ok()) return limit.error();
  out.limit_bytes = *limit;
  auto high = readWith(dir, "memory.high", parseV2Limit);
  if (!high.ok()) return high.error();
  out.high_bytes = *high;
  auto stat = readWith(dir, "memory.stat", parseV2MemoryStat);
  if (!stat.ok()) return stat.error();
  out.stat = *stat;
  out.working_set_bytes = workingSet(out.usage_bytes, out.stat.inactive_file_bytes);
  auto events = readWith(dir, "memory.events", parseV2MemoryEvents);
  if (!events.ok()) return events.error();
  out.events = *events;
  out.oom_kill_count = events->oom_kill;
  // memory.pressure exists only with PSI enabled: optional.
  auto pressure = readPressure(dir + "/memory.pressure");
  if (pressure.ok()) out.pressure = *pressure;
  return out;
}

Result<CgroupMemory> readCgroupMemory(const CgroupLocation& location) {
  if (!location.memory_version) return Error{"no_cgroup", "no memory cgroup"};
  return *location.memory_version == CgroupVersion::kV1 ? readCgroupV1Memory(location.memory_dir)
                                                        : readCgroupV2Memory(location.memory_dir);
}

Result<std::uint64_t> readCgroupUsage(const CgroupLocation& location) {
  if (!location.memory_version) return Error{"no_cgroup", "no memory cgroup"};
  return readWith(location.memory_dir,
                  *location.memory_version == CgroupVersion::kV1 ? "memory.usage_in_bytes"
                                                                 : "memory.current",
                  parseU64File);
}

}  // namespace memvisor::sampling
