// Saved counters: what memvisord counted per bot (restarts, OOM kills, actions and the bytes
// they freed), kept in daemon.state_file so that a restarted memvisord - a sidecar container
// restarted by Docker or the kubelet - carries on counting where it stopped instead of at 0:
// `memvisorctl status`, the summary line and the Prometheus counters survive it. The file is
// small JSON, rewritten whole (temp file + rename) when a counter changes; a missing file is
// a first start, an unreadable one is said once and supervision goes on from 0.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "memvisor/result.hpp"

namespace memvisor::daemon {

struct BotCounters {
  std::int64_t restarts = 0;
  std::int64_t oom_kills = 0;
  std::uint64_t actions = 0;
  std::map<std::string, double> actions_by;  // "action:result" -> memvisor_actions_total
  std::map<std::string, double> freed_by;    // action -> memvisor_freed_bytes_total
  bool operator==(const BotCounters&) const = default;
};
using SavedCounters = std::map<std::string, BotCounters>;  // by bot name

// Parsers take text, readers take paths. Error code "parse" on a malformed document.
Result<SavedCounters> parseSavedCounters(const std::string& text);
std::string formatSavedCounters(const SavedCounters& counters);
// A missing file is an empty set, not an error.
Result<SavedCounters> loadSavedCounters(const std::string& path);
// Writes PATH.tmp then renames it over PATH, so that a reader never sees half a file.
Result<void> saveSavedCounters(const std::string& path, const SavedCounters& counters);

}  // namespace memvisor::daemon
