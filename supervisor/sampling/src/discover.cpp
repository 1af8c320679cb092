// Attach discovery (see discover.hpp).
#include "memvisor/sampling/discover.hpp"

#include <regex>

#include "memvisor/sampling/process_files.hpp"
#include "memvisor/sampling/process_tree.hpp"
#include "text.hpp"

namespace memvisor::sampling {

std::optional<pid_t> parsePidText(std::string_view text) {
  auto v = detail::toU64(detail::trim(text));
  if (!v || *v == 0 || *v > static_cast<std::uint64_t>(INT32_MAX)) return std::nullopt;
  return static_cast<pid_t>(*v);
}

std::optional<pid_t> findByPidfile(const SysPaths& paths, const std::string& pidfile) {
  auto text = detail::readFile(pidfile);
  if (!text) return std::nullopt;
  auto pid = parsePidText(*text);
  if (!pid) return std::nullopt;
  // A zombie is a bot that has exited and is not reaped yet: adopting it would loop
  // (adopt, exit at once, discover again) until its parent reaps it.
  auto st = readStat(paths, *pid);
  if (st && st->state != 'Z' && st->state != 'X') return pid;
  return std::nullopt;
}

std::optional<pid_t> findByCmdline(const SysPaths& paths, const std::string& pattern, pid_t self) {
  std::regex re;
  try {
    re = std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    return std::nullopt;  // validated by the config loader; never here in practice
  }
  std::optional<pid_t> best;
  for (pid_t pid : listPids(paths)) {
    if (pid == self) continue;
    auto text = detail::readPidFile(paths.pidFile(pid, "cmdline"));
    if (!text || text->empty()) continue;  // kernel thread, or gone
    std::string cmdline = std::move(*text);
    while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    bool match = false;
    try {
      match = std::regex_search(cmdline, re);
    } catch (const std::regex_error&) {
      return std::nullopt;  // pathological pattern (complexity): this scan finds nothing
    }
    if (match && (!best || pid < *best)) best = pid;
  }
  return best;
}

}  // namespace memvisor::sampling
