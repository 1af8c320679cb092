// Journal: memvisord's record of every threshold crossing, action, restart, OOM kill and
// config change. Each entry is one structured line on stderr (logfmt or JSON), optionally
// appended to a JSON-lines file with size-based rotation, kept in a bounded in-memory
// backlog, and pushed to live subscribers (memvisorctl events --follow).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "memvisor/proto/messages.hpp"
#include "memvisor/result.hpp"

namespace memvisor::journal {

enum class Format { kLogfmt, kJson };

struct Options {
  Format format = Format::kLogfmt;
  std::ostream* out = nullptr;            // stderr in memvisord; nullptr = no line output
  std::string file_path;                  // empty = no file
  std::uint64_t file_max_bytes = 10u << 20;  // rotate when the file would exceed this
  int file_keep = 3;                      // rotated files kept: path.1 .. path.N
  // The in-memory backlog subscribers replay (`memvisorctl events --since`) is bounded in
  // bytes: the oldest entries go once the newest ones' estimated footprint (entryBytes)
  // passes backlog_bytes, so a flood of large bot events cannot grow memvisord. The newest
  // entry is always kept. backlog_entries is a second, coarse cap.
  std::size_t backlog_bytes = 1u << 20;   // 1 MiB: about 4000 typical entries
  std::size_t backlog_entries = 10000;
};

class Journal {
 public:
  explicit Journal(Options options);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Records one entry: writes the line, appends to the file (rotating if needed), keeps it
  // in the backlog and calls every listener. Never throws; a failing file write is reported
  // once (a `journal` entry, level error, on every sink but the file) and the entry still
  // reaches the other sinks; when the file takes lines again that is said once too, with
  // the number of entries it is missing.
  void record(proto::JournalEntry entry);

  // Entries with ts_ms >= since_ms (and of `bot` when given), oldest first.
  std::vector<proto::JournalEntry> since(std::int64_t since_ms,
                                         const std::optional<std::string>& bot) const;

  using Listener = std::function<void(const proto::JournalEntry&)>;
  std::uint64_t subscribe(Listener listener);
  void unsubscribe(std::uint64_t token);

  // One line as it goes to `out` (no newline): logfmt `ts=... level=... bot=... kind=...
  // msg="..." key=value ...` or one JSON object.
  static std::string formatLine(const proto::JournalEntry& e, Format f);

  // The JSON-lines file is opened lazily, kept open, and rotated when the next line would
  // make it exceed file_max_bytes: path.N is dropped, path.i becomes path.i+1, path becomes
  // path.1 (file_keep 0: the file is simply truncated). Reopen after an outside rename
  // (e.g. logrotate) with reopenFile().
  void reopenFile();
  std::size_t backlogSize() const { return backlog_.size(); }
  std::size_t backlogBytes() const { return backlog_bytes_; }
  // What one entry is counted as in the backlog: its strings and map nodes plus the
  // allocator's per-block overhead, an estimate of the heap it holds.
  static std::size_t entryBytes(const proto::JournalEntry& e);

 private:
  void deliver(const proto::JournalEntry& entry);  // out, backlog, listeners
  void writeFile(const proto::JournalEntry& entry);
  bool writeFileLine(const std::string& line);
  bool openFile();
  void rotate();

  Options options_;
  int fd_ = -1;
  std::uint64_t file_size_ = 0;
  std::deque<proto::JournalEntry> backlog_;
  std::size_t backlog_bytes_ = 0;
  std::uint64_t file_missed_ = 0;  // entries not written while the file failed
  std::map<std::uint64_t, Listener> listeners_;
  std::uint64_t next_token_ = 1;
  bool file_error_reported_ = false;
};

}  // namespace memvisor::journal
