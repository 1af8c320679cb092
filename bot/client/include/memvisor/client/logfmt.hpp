// A tiny logfmt line builder (key=value, one event a line) shared by the client library and
// the reference bot, so both print lines the daemon's tools can grep the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace memvisor::client {

class LogLine {
 public:
  // Starts "ts=<UTC ISO-8601 ms> level=<level> event=<event>".
  LogLine(std::string_view level, std::string_view event);
  LogLine& kv(std::string_view key, std::string_view value);
  LogLine& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  LogLine& kv(std::string_view key, const std::string& value) { return kv(key, std::string_view(value)); }
  LogLine& kv(std::string_view key, std::int64_t value);
  LogLine& kv(std::string_view key, std::uint64_t value);
  LogLine& kv(std::string_view key, int value) { return kv(key, static_cast<std::int64_t>(value)); }
  LogLine& kv(std::string_view key, bool value) { return kv(key, value ? "true" : "false"); }
  LogLine& kv(std::string_view key, double value, int decimals = 2);
  // Appends pre-formatted text verbatim (the seed's "[MEM] rss=..." fields).
  LogLine& raw(std::string_view text);
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

// Where log lines go; the default writes to stderr with one write() per line.
using LogSink = std::function<void(const std::string& line)>;
void stderrSink(const std::string& line);

// "156.2MB" as the seed prints it (MiB, one decimal).
std::string formatMb(std::int64_t bytes);

}  // namespace memvisor::client
