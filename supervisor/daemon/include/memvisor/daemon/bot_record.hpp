// BotRecord: how a new memvisord finds the bots its predecessor spawned. A memvisord that
// is SIGKILLed (or crashes) leaves its bots running; the next one must take them over, not
// start a second copy. For every bot it spawns, memvisord keeps a small file beside the bot
// socket, "<bot socket dir>/<bot>.pid", holding "PID START_TICKS" (field 22 of
// /proc/PID/stat). A record is honoured only while the process with that pid has that
// start time, so a reused pid never hands memvisord a stranger.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "memvisor/result.hpp"
#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::daemon {

struct BotRecord {
  pid_t pid = 0;
  std::uint64_t start_ticks = 0;
};

// "<dir of bot_socket>/<name>.pid".
std::string botRecordPath(const std::string& bot_socket, const std::string& name);
// "PID START_TICKS\n" -> record; nullopt when malformed.
std::optional<BotRecord> parseBotRecord(std::string_view text);

// Writes the record of `pid` (its start time read now), atomically (temp file + rename).
Result<void> writeBotRecord(const std::string& path, const sampling::SysPaths& paths, pid_t pid);
// The recorded pid when that very process still runs (same start time, not a zombie).
std::optional<pid_t> findRecordedBot(const std::string& path, const sampling::SysPaths& paths);
void removeBotRecord(const std::string& path);

}  // namespace memvisor::daemon
