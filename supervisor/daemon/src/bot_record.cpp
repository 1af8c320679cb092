// The per-bot record file that lets a new memvisord take over a running bot (bot_record.hpp).
#include "memvisor/daemon/bot_record.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "memvisor/daemon/pidfd.hpp"  // errnoError
#include "memvisor/sampling/process_files.hpp"

namespace memvisor::daemon {

std::string botRecordPath(const std::string& bot_socket, const std::string& name) {
  const auto dir = std::filesystem::path(bot_socket).parent_path();
  return (dir / (name + ".pid")).string();
}

std::optional<BotRecord> parseBotRecord(std::string_view text) {
  BotRecord r;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  auto a = std::from_chars(p, end, r.pid);
  if (a.ec != std::errc() || r.pid <= 0 || a.ptr == end || *a.ptr != ' ') return std::nullopt;
  auto b = std::from_chars(a.ptr + 1, end, r.start_ticks);
  if (b.ec != std::errc()) return std::nullopt;
  if (b.ptr != end && !(*b.ptr == '\n' && b.ptr + 1 == end)) return std::nullopt;
  return r;
}

Result<void> writeBotRecord(const std::string& path, const sampling::SysPaths& paths, pid_t pid) {
  auto st = sampling::readStat(paths, pid);
  if (!st) return st.error().wrap("recording bot pid " + std::to_string(pid));
  const std::string text =
      std::to_string(pid) + " " + std::to_string(st->start_time_ticks) + "\n";
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errnoError(errno, "creating " + tmp);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return errnoError(err, "writing " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return errnoError(e, "renaming " + tmp + " to " + path);
  }
  return okResult();
}

std::optional<pid_t> findRecordedBot(const std::string& path, const sampling::SysPaths& paths) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  auto rec = parseBotRecord(ss.str());
  if (!rec) return std::nullopt;
  auto st = sampling::readStat(paths, rec->pid);
  if (!st || st->start_time_ticks != rec->start_ticks) return std::nullopt;  // gone or reused
  if (st->state == 'Z' || st->state == 'X') return std::nullopt;             // already dead
  return rec->pid;
}

void removeBotRecord(const std::string& path) { ::unlink(path.c_str()); }

}  // namespace memvisor::daemon
