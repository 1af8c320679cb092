// /proc/meminfo and the host sample (MemAvailable, memory PSI).
#include "memvisor/sampling/meminfo.hpp"

#include "text.hpp"

namespace memvisor::sampling {

Result<MemInfo> parseMeminfo(std::string_view text) {
  MemInfo out;
  bool have_total = false, have_available = false;
  std::optional<Error> error;
  detail::forEachLine(text, [&](std::string_view line) {
    if (error) return;
    std::string_view key, value;
    if (!detail::splitKeyValue(line, key, value)) return;
    std::uint64_t* target = nullptr;
    if (key == "MemTotal") { target = &out.mem_total_bytes; have_total = true; }
    else if (key == "MemFree") target = &out.mem_free_bytes;
    else if (key == "MemAvailable") { target = &out.mem_available_bytes; have_available = true; }
    else if (key == "SwapTotal") target = &out.swap_total_bytes;
    else if (key == "SwapFree") target = &out.swap_free_bytes;
    if (target == nullptr) return;
    auto v = detail::kbValue(value);
    if (!v) error = detail::parseError("meminfo: bad " + std::string(key));
    else *target = *v;
  });
  if (error) return *error;
  if (!have_total) return detail::missingField("MemTotal in meminfo");
  if (!have_available) return detail::missingField("MemAvailable in meminfo");
  return out;
}

Result<MemInfo> readMeminfo(const SysPaths& paths) {
  std::string path = paths.procFile("meminfo");
  auto text = detail::readFile(path);
  if (!text.ok()) return text.error();
  auto parsed = parseMeminfo(*text);
  if (!parsed.ok()) return parsed.error().wrap("reading " + path);
  return parsed;
}

Result<HostSample> readHost(const SysPaths& paths) {
  auto meminfo = readMeminfo(paths);
  if (!meminfo.ok()) return meminfo.error();
  HostSample out;
  out.meminfo = *meminfo;
  auto pressure = readHostMemoryPressure(paths);
  if (pressure.ok()) out.pressure = *pressure;
  return out;
}

}  // namespace memvisor::sampling
