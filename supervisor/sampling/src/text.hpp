// Internal helpers shared by the /proc and cgroup parsers and readers: whole-file reads with
// errno context, and allocation-free number and line parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "memvisor/errno_error.hpp"
#include "memvisor/result.hpp"

namespace memvisor::sampling::detail {

using memvisor::errnoCode;   // the one errno table (memvisor/errno_error.hpp)
using memvisor::errnoError;

// Reads a whole (small, pseudo-)file. Error message: "reading <path>: <strerror>".
Result<std::string> readFile(const std::string& path);
// Same for a /proc/PID file: ENOENT and ESRCH become code "gone" (a vanished pid is normal).
Result<std::string> readPidFile(const std::string& path);

std::string_view trim(std::string_view s);
std::optional<std::uint64_t> toU64(std::string_view s);  // whole token, decimal
std::optional<std::int64_t> toI64(std::string_view s);
std::optional<double> toDouble(std::string_view s);

// Calls fn(line) for each '\n'-separated line (the last may lack '\n').
template <typename Fn>
void forEachLine(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    fn(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// Splits "key value" / "key: value kB" lines. Returns false for a line without a value.
bool splitKeyValue(std::string_view line, std::string_view& key, std::string_view& value);

// "1234 kB" -> bytes (a bare number is taken as bytes, "kB" multiplies by 1024).
std::optional<std::uint64_t> kbValue(std::string_view value);

Error parseError(const std::string& what);          // code "parse"
Error missingField(const std::string& field);       // code "missing_field"

}  // namespace memvisor::sampling::detail
