#include "memvisor/client/logfmt.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "memvisor/logfmt.hpp"

namespace memvisor::client {

LogLine::LogLine(std::string_view level, std::string_view event) {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  s_ = "ts=";
  s_ += buf;
  kv("level", level);
  kv("event", event);
}

LogLine& LogLine::kv(std::string_view key, std::string_view value) {
  s_ += ' ';
  s_ += key;
  s_ += '=';
  s_ += logfmtValue(value);
  return *this;
}

LogLine& LogLine::kv(std::string_view key, std::int64_t value) { return kv(key, std::to_string(value)); }
LogLine& LogLine::kv(std::string_view key, std::uint64_t value) { return kv(key, std::to_string(value)); }

LogLine& LogLine::kv(std::string_view key, double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return kv(key, std::string_view(buf));
}

LogLine& LogLine::raw(std::string_view text) {
  s_ += ' ';
  s_ += text;
  return *this;
}

void stderrSink(const std::string& line) {
  std::string out = line;
  out += '\n';
  // One write() per line keeps lines whole when several processes share the stream.
  [[maybe_unused]] auto n = ::write(2, out.data(), out.size());
}

std::string formatMb(std::int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fMB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace memvisor::client
