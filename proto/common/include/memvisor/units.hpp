// Sizes and durations as memvisor's config writes them ("384MiB", "80%", "15m", "500ms"):
// pure parsers that refuse bare numbers, and the formatters used in journal lines. Shared by
// the config, the policy, the daemon and memvisorctl (one parser for every size a user types).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "memvisor/result.hpp"

namespace memvisor {

using Bytes = std::int64_t;
using Duration = std::chrono::milliseconds;

inline constexpr Bytes kKiB = 1024;
inline constexpr Bytes kMiB = 1024 * kKiB;
inline constexpr Bytes kGiB = 1024 * kMiB;

// A size that is either absolute or a percentage of the bot's limit.
struct SizeSpec {
  bool is_percent = false;
  Bytes bytes = 0;       // when !is_percent
  double percent = 0.0;  // when is_percent, e.g. 80.0

  static SizeSpec absolute(Bytes b) { return SizeSpec{false, b, 0.0}; }
  static SizeSpec percentOf(double p) { return SizeSpec{true, 0, p}; }
  // The byte figure against `limit` (percentages round down to a byte).
  Bytes resolve(Bytes limit) const;
  // "80%" or "384 MiB", as it would be written back.
  std::string toString() const;
  bool operator==(const SizeSpec&) const = default;
};

// "384MiB", "512M", "1.5GiB", "4096B", "1G": K/M/G, KB/MB/GB and KiB/MiB/GiB are all powers
// of 1024 (as in systemd, Docker and PM2), case-insensitive. A bare number is refused with
// a hint (PM2's `max_memory_restart: 300` means 300 bytes). With allow_percent, "80%" and
// "12.5%" are accepted as a percentage (range checks are the caller's). Error code
// "bad_size"; the message is the reason without the value's path.
Result<SizeSpec> parseSize(std::string_view text, bool allow_percent);

// "300s", "15m", "500ms", "1h", "1.5s", "1h30m", "2d"; a bare number is refused with a hint.
// Error code "bad_duration".
Result<Duration> parseDuration(std::string_view text);

// "310.2 MiB", "512 MiB", "900 KiB", "12 B"; negative figures keep their sign.
std::string formatBytes(Bytes b);
// "15m", "300s", "1h30m", "500ms", "0s": the shortest exact form.
std::string formatDuration(Duration d);

}  // namespace memvisor
