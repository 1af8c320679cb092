// Journal sinks: a formatted line on `out`, a rotated JSON-lines file, the backlog and
// live listeners (see journal.hpp).
#include "memvisor/journal/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "memvisor/logfmt.hpp"

namespace memvisor::journal {
namespace {

const std::string kReserved[] = {"ts", "ts_ms", "level", "bot", "kind", "msg"};

bool isReserved(const std::string& k) {
  for (const auto& r : kReserved) {
    if (k == r) return true;
  }
  return false;
}

std::string isoTime(std::int64_t ts_ms) {
  std::time_t secs = static_cast<std::time_t>(ts_ms >= 0 ? ts_ms / 1000 : (ts_ms - 999) / 1000);
  int ms = static_cast<int>(ts_ms - static_cast<std::int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

}  // namespace

Journal::Journal(Options options) : options_(std::move(options)) {}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

std::string Journal::formatLine(const proto::JournalEntry& e, Format f) {
  if (f == Format::kJson) {
    nlohmann::ordered_json j;
    j["ts"] = isoTime(e.ts_ms);
    j["ts_ms"] = e.ts_ms;
    j["level"] = proto::toString(e.level);
    if (!e.bot.empty()) j["bot"] = e.bot;
    j["kind"] = e.kind;
    j["msg"] = e.message;
    for (const auto& [k, v] : e.fields) j[isReserved(k) ? "field_" + k : k] = v;
    // Invalid UTF-8 must not make a line vanish: replace it.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line = "ts=" + isoTime(e.ts_ms) + " level=" + proto::toString(e.level);
  if (!e.bot.empty()) line += " bot=" + logfmtValue(e.bot);
  line += " kind=" + logfmtValue(e.kind);
  line += " msg=" + logfmtValue(e.message);
  for (const auto& [k, v] : e.fields) {
    const std::string key = isReserved(k) ? "field_" + k : logfmtKey(k);
    line += " " + key + "=" + logfmtValue(v);
  }
  return line;
}

std::size_t Journal::entryBytes(const proto::JournalEntry& e) {
  // A heap string costs its capacity plus ~16 bytes of malloc header; short strings live
  // inside the object (SSO). A map node holds two strings and three pointers and a colour.
  constexpr std::size_t kSso = 15;
  constexpr std::size_t kBlock = 16;
  auto heap = [](const std::string& str) {
    return str.capacity() > kSso ? str.capacity() + 1 + kBlock : 0;
  };
  std::size_t n = sizeof(proto::JournalEntry) + heap(e.bot) + heap(e.kind) + heap(e.message);
  for (const auto& [k, v] : e.fields) {
    n += 2 * sizeof(std::string) + 32 + kBlock + heap(k) + heap(v);
  }
  return n;
}

void Journal::record(proto::JournalEntry entry) {
  if (!options_.file_path.empty()) writeFile(entry);
  deliver(entry);
}

void Journal::writeFile(const proto::JournalEntry& entry) {
  const bool ok = writeFileLine(formatLine(entry, Format::kJson) + "\n");
  if (ok && !file_error_reported_) return;
  proto::JournalEntry note;
  note.ts_ms = entry.ts_ms;
  note.kind = "journal";
  note.fields["file"] = options_.file_path;
  if (!ok) {
    ++file_missed_;
    if (file_error_reported_) return;  // said once per outage
    const int err = errno;
    file_error_reported_ = true;
    note.level = proto::Level::kError;
    note.message = "cannot write the journal file; entries go to the other sinks only "
                   "until it can be written again";
    note.fields["error"] = std::strerror(err);
    // Not to the file (it is what fails): stderr, backlog and subscribers.
    deliver(note);
    return;
  }
  file_error_reported_ = false;
  note.level = proto::Level::kInfo;
  note.message = "the journal file takes lines again";
  note.fields["missed"] = std::to_string(file_missed_);
  file_missed_ = 0;
  deliver(note);
  (void)writeFileLine(formatLine(note, Format::kJson) + "\n");
}

void Journal::deliver(const proto::JournalEntry& entry) {
  if (options_.out) {
    // One write a line: the bots memvisord starts share its stderr, and a line written in two
    // pieces (text, then newline) lets a bot's line land between them. CI saw a journal line
    // and a bot's glued together, and the test reading the journal missed the entry.
    std::string line = formatLine(entry, options_.format);
    line += '\n';
    options_.out->write(line.data(), static_cast<std::streamsize>(line.size()));
    options_.out->flush();
  }
  backlog_.push_back(entry);
  backlog_bytes_ += entryBytes(backlog_.back());  // the copy's capacities, as popped below
  while (backlog_.size() > 1 && (backlog_bytes_ > options_.backlog_bytes ||
                                 backlog_.size() > options_.backlog_entries)) {
    backlog_bytes_ -= entryBytes(backlog_.front());
    backlog_.pop_front();
  }
  // Listeners may unsubscribe (themselves or others) while being called: walk a snapshot of
  // the tokens and skip the ones gone.
  std::vector<std::uint64_t> tokens;
  tokens.reserve(listeners_.size());
  for (const auto& [token, l] : listeners_) tokens.push_back(token);
  for (auto token : tokens) {
    auto it = listeners_.find(token);
    if (it == listeners_.end()) continue;
    Listener l = it->second;  // a copy: the map entry may be erased during the call
    l(entry);
  }
}

std::vector<proto::JournalEntry> Journal::since(std::int64_t since_ms,
                                                const std::optional<std::string>& bot) const {
  std::vector<proto::JournalEntry> out;
  for (const auto& e : backlog_) {
    if (e.ts_ms < since_ms) continue;
    if (bot && e.bot != *bot) continue;
    out.push_back(e);
  }
  return out;
}

std::uint64_t Journal::subscribe(Listener listener) {
  const std::uint64_t token = next_token_++;
  listeners_.emplace(token, std::move(listener));
  return token;
}

void Journal::unsubscribe(std::uint64_t token) { listeners_.erase(token); }

void Journal::reopenFile() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool Journal::openFile() {
  if (fd_ >= 0) return true;
  fd_ = ::open(options_.file_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return false;
  struct stat st {};
  file_size_ = ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  return true;
}

void Journal::rotate() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  const std::string& p = options_.file_path;
  if (options_.file_keep <= 0) {
    ::truncate(p.c_str(), 0);
    return;
  }
  ::unlink((p + "." + std::to_string(options_.file_keep)).c_str());
  for (int i = options_.file_keep - 1; i >= 1; --i) {
    ::rename((p + "." + std::to_string(i)).c_str(), (p + "." + std::to_string(i + 1)).c_str());
  }
  ::rename(p.c_str(), (p + ".1").c_str());
}

bool Journal::writeFileLine(const std::string& line) {
  if (!openFile()) return false;
  if (file_size_ > 0 && file_size_ + line.size() > options_.file_max_bytes) {
    rotate();
    if (!openFile()) return false;
  }
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  file_size_ += line.size();
  return true;
}

}  // namespace memvisor::journal
