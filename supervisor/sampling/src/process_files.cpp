// Parsers and readers for /proc/PID/{statm,status,stat,smaps_rollup}.
#include "memvisor/sampling/process_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "text.hpp"

namespace memvisor::sampling {

using detail::kbValue;
using detail::toU64;

std::uint64_t pageSize() {
  static const std::uint64_t size = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

Result<Statm> parseStatm(std::string_view text, std::uint64_t page_size) {
  std::uint64_t fields[3] = {0, 0, 0};
  std::string_view rest = detail::trim(text);
  for (int i = 0; i < 3; ++i) {
    auto sp = rest.find(' ');
    std::string_view tok = rest.substr(0, sp);
    auto v = toU64(tok);
    if (!v) return detail::parseError("statm: field " + std::to_string(i + 1) + " is not a number");
    fields[i] = *v;
    rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  }
  return Statm{fields[0] * page_size, fields[1] * page_size, fields[2] * page_size};
}

Result<Statm> readStatm(const SysPaths& paths, pid_t pid) {
  std::string path = paths.pidFile(pid, "statm");
  auto text = detail::readPidFile(path);
  if (!text.ok()) return text.error();
  auto statm = parseStatm(*text);
  if (!statm.ok()) return statm.error().wrap("reading " + path);
  return statm;
}

Result<ProcStatus> parseStatus(std::string_view text) {
  ProcStatus out;
  std::optional<Error> error;
  detail::forEachLine(text, [&](std::string_view line) {
    if (error) return;
    std::string_view key, value;
    if (!detail::splitKeyValue(line, key, value)) return;
    std::optional<std::uint64_t>* target = nullptr;
    if (key == "Name") {
      out.name = std::string(value);
      return;
    }
    if (key == "PPid") {
      auto v = toU64(value);
      if (!v) error = detail::parseError("status: bad PPid");
      else out.ppid = static_cast<pid_t>(*v);
      return;
    }
    if (key == "VmRSS") target = &out.vm_rss_bytes;
    else if (key == "RssAnon") target = &out.rss_anon_bytes;
    else if (key == "RssFile") target = &out.rss_file_bytes;
    else if (key == "RssShmem") target = &out.rss_shmem_bytes;
    else if (key == "VmSwap") target = &out.vm_swap_bytes;
    if (target == nullptr) return;
    auto v = kbValue(value);
    if (!v) error = detail::parseError("status: bad " + std::string(key));
    else *target = *v;
  });
  if (error) return *error;
  return out;
}

Result<ProcStatus> readStatus(const SysPaths& paths, pid_t pid) {
  std::string path = paths.pidFile(pid, "status");
  auto text = detail::readPidFile(path);
  if (!text.ok()) return text.error();
  auto status = parseStatus(*text);
  if (!status.ok()) return status.error().wrap("reading " + path);
  return status;
}

Result<ProcStat> parseStat(std::string_view text) {
  // "pid (comm) state ppid ..." where comm may hold spaces, parentheses and ") Z": the comm
  // ends at the LAST ')'.
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return detail::parseError("stat: no (comm)");
  }
  ProcStat out;
  auto pid = toU64(detail::trim(text.substr(0, open)));
  if (!pid) return detail::parseError("stat: bad pid");
  out.pid = static_cast<pid_t>(*pid);
  out.comm = std::string(text.substr(open + 1, close - open - 1));
  // Fields after comm, numbered from 3 (state).
  std::string_view rest = text.substr(close + 1);
  int field = 3;
  bool have_state = false, have_ppid = false, have_start = false;
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    auto sp = rest.find(' ');
    std::string_view tok = detail::trim(rest.substr(0, sp));
    if (field == 3) {
      if (tok.size() != 1) return detail::parseError("stat: bad state");
      out.state = tok[0];
      have_state = true;
    } else if (field == 4) {
      auto v = detail::toI64(tok);
      if (!v) return detail::parseError("stat: bad ppid");
      out.ppid = static_cast<pid_t>(*v);
      have_ppid = true;
    } else if (field == 22) {
      auto v = toU64(tok);
      if (!v) return detail::parseError("stat: bad starttime");
      out.start_time_ticks = *v;
      have_start = true;
      break;
    }
    ++field;
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp);
  }
  if (!have_state || !have_ppid) return detail::parseError("stat: truncated");
  (void)have_start;  // older or truncated files: start time stays 0, ppid is what matters
  return out;
}

Result<ProcStat> readStat(const SysPaths& paths, pid_t pid) {
  std::string path = paths.pidFile(pid, "stat");
  auto text = detail::readPidFile(path);
  if (!text.ok()) return text.error();
  auto stat = parseStat(*text);
  if (!stat.ok()) return stat.error().wrap("reading " + path);
  return stat;
}

Result<SmapsRollup> parseSmapsRollup(std::string_view text) {
  SmapsRollup out;
  bool have_pss = false;
  std::optional<Error> error;
  detail::forEachLine(text, [&](std::string_view line) {
    if (error) return;
    std::string_view key, value;
    if (!detail::splitKeyValue(line, key, value)) return;
    std::uint64_t* target = nullptr;
    if (key == "Rss") target = &out.rss_bytes;
    else if (key == "Pss") { target = &out.pss_bytes; have_pss = true; }
    else if (key == "Private_Clean") target = &out.private_clean_bytes;
    else if (key == "Private_Dirty") target = &out.private_dirty_bytes;
    else if (key == "Swap") target = &out.swap_bytes;
    if (target == nullptr) return;
    auto v = kbValue(value);
    if (!v) error = detail::parseError("smaps_rollup: bad " + std::string(key));
    else *target = *v;
  });
  if (error) return *error;
  if (!have_pss) return detail::missingField("Pss in smaps_rollup");
  return out;
}

Result<SmapsRollup> readSmapsRollup(const SysPaths& paths, pid_t pid) {
  std::string path = paths.pidFile(pid, "smaps_rollup");
  auto text = detail::readPidFile(path);
  if (!text.ok()) return text.error();
  auto rollup = parseSmapsRollup(*text);
  if (!rollup.ok()) return rollup.error().wrap("reading " + path);
  return rollup;
}

Result<StatmReader> StatmReader::open(const SysPaths& paths, pid_t pid) {
  std::string path = paths.pidFile(pid, "statm");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ESRCH) return Error{"gone", "reading " + path + ": no such process"};
    return detail::errnoError(err, "reading " + path);
  }
  return StatmReader(fd, pid, std::move(path));
}

StatmReader::StatmReader(StatmReader&& other) noexcept
    : fd_(other.fd_), pid_(other.pid_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

StatmReader& StatmReader::operator=(StatmReader&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    pid_ = other.pid_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

StatmReader::~StatmReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Statm> StatmReader::read() const {
  char buf[256];
  ssize_t n;
  do {
    n = ::pread(fd_, buf, sizeof buf - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int err = errno;
    if (err == ESRCH || err == ENOENT) return Error{"gone", "reading " + path_ + ": no such process"};
    return detail::errnoError(err, "reading " + path_);
  }
  std::string_view text(buf, static_cast<std::size_t>(n));
  auto statm = parseStatm(text);
  if (!statm.ok()) return statm.error().wrap("reading " + path_);
  // An exited (zombie or reaped) process has no mm: the kernel prints all zeros.
  if (statm->size_bytes == 0 && statm->resident_bytes == 0) {
    return Error{"gone", "reading " + path_ + ": process has exited"};
  }
  return statm;
}

}  // namespace memvisor::sampling
