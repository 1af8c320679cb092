// Parsing and formatting of sizes and durations (see units.hpp).
#include "memvisor/units.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace memvisor {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Splits "1.5GiB" into the number (1.5) and the unit ("GiB"). False when no leading number.
bool splitNumber(std::string_view s, double& number, std::string_view& unit) {
  std::size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) return false;
  auto num = s.substr(0, i);
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), number);
  if (ec != std::errc() || ptr != num.data() + num.size()) return false;
  unit = trim(s.substr(i));
  return true;
}

bool isBareNumber(std::string_view s) {
  double n = 0;
  std::string_view unit;
  return splitNumber(s, n, unit) && unit.empty();
}

Error sizeError(std::string message) { return Error{"bad_size", std::move(message)}; }
Error durationError(std::string message) { return Error{"bad_duration", std::move(message)}; }

std::string trimZeros(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

}  // namespace

Bytes SizeSpec::resolve(Bytes limit) const {
  if (!is_percent) return bytes;
  return static_cast<Bytes>(std::floor(static_cast<double>(limit) * percent / 100.0));
}

std::string SizeSpec::toString() const {
  if (is_percent) return trimZeros(percent, 2) + "%";
  return formatBytes(bytes);
}

Result<SizeSpec> parseSize(std::string_view text, bool allow_percent) {
  std::string_view s = trim(text);
  if (s.empty()) return sizeError("empty size: write e.g. 384MiB");
  if (s.front() == '-') return sizeError("a size cannot be negative, got " + std::string(s));
  if (isBareNumber(s)) {
    return sizeError("bare number " + std::string(s) + " is not a size: write " +
                     std::string(s) + "MiB (or " + std::string(s) +
                     "B if you really mean bytes; PM2's max_memory_restart: 300 means 300 "
                     "bytes)" + (allow_percent ? ", or a percentage of the limit like 80%" : ""));
  }
  double number = 0;
  std::string_view unit;
  if (!splitNumber(s, number, unit)) {
    return sizeError("not a size: " + std::string(s) + " (write e.g. 384MiB, 512M, 1.5GiB" +
                     (allow_percent ? ", 80%)" : ")"));
  }
  if (unit == "%") {
    if (!allow_percent) {
      return sizeError("a percentage is not allowed here, got " + std::string(s) +
                       ": write an absolute size like 384MiB");
    }
    return SizeSpec::percentOf(number);
  }
  const std::string u = lower(unit);
  double mult = 0;
  if (u == "b") {
    mult = 1;
  } else if (u == "k" || u == "kb" || u == "kib") {
    mult = static_cast<double>(kKiB);
  } else if (u == "m" || u == "mb" || u == "mib") {
    mult = static_cast<double>(kMiB);
  } else if (u == "g" || u == "gb" || u == "gib") {
    mult = static_cast<double>(kGiB);
  } else if (u == "t" || u == "tb" || u == "tib") {
    mult = static_cast<double>(kGiB) * 1024.0;
  } else {
    return sizeError("unknown size unit '" + std::string(unit) + "' in " + std::string(s) +
                     " (use B, KiB, MiB, GiB; K/M/G and KB/MB/GB also mean powers of 1024)");
  }
  const double bytes = number * mult;
  if (bytes > static_cast<double>(std::numeric_limits<Bytes>::max() / 2)) {
    return sizeError("size too large: " + std::string(s));
  }
  if (mult == 1 && number != std::floor(number)) {
    return sizeError("a byte count must be whole, got " + std::string(s));
  }
  return SizeSpec::absolute(static_cast<Bytes>(std::llround(bytes)));
}

Result<Duration> parseDuration(std::string_view text) {
  std::string_view s = trim(text);
  if (s.empty()) return durationError("empty duration: write e.g. 300s or 15m");
  if (s.front() == '-') return durationError("a duration cannot be negative, got " + std::string(s));
  if (isBareNumber(s)) {
    return durationError("bare number " + std::string(s) + " is not a duration: write " +
                         std::string(s) + "s (seconds) or " + std::string(s) +
                         "ms (milliseconds)");
  }
  // A sequence of <number><unit>: "1h30m", "1.5s", "500ms".
  double total_ms = 0;
  std::string_view rest = s;
  while (!rest.empty()) {
    std::size_t i = 0;
    while (i < rest.size() &&
           (std::isdigit(static_cast<unsigned char>(rest[i])) || rest[i] == '.')) {
      ++i;
    }
    if (i == 0) {
      return durationError("not a duration: " + std::string(s) + " (write e.g. 300s, 15m, 500ms, 1h)");
    }
    double number = 0;
    auto num = rest.substr(0, i);
    auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), number);
    if (ec != std::errc() || ptr != num.data() + num.size()) {
      return durationError("not a duration: " + std::string(s));
    }
    rest.remove_prefix(i);
    std::size_t j = 0;
    while (j < rest.size() && std::isalpha(static_cast<unsigned char>(rest[j]))) ++j;
    const std::string unit = lower(rest.substr(0, j));
    rest.remove_prefix(j);
    rest = trim(rest);
    double mult = 0;
    if (unit == "ms") {
      mult = 1;
    } else if (unit == "s" || unit == "sec") {
      mult = 1000;
    } else if (unit == "m" || unit == "min") {
      mult = 60'000;
    } else if (unit == "h") {
      mult = 3'600'000;
    } else if (unit == "d") {
      mult = 86'400'000;
    } else {
      return durationError("unknown duration unit '" + unit + "' in " + std::string(s) +
                           " (use ms, s, m, h, d)");
    }
    total_ms += number * mult;
  }
  if (total_ms > 1e15) return durationError("duration too large: " + std::string(s));
  return Duration(static_cast<Duration::rep>(std::llround(total_ms)));
}

std::string formatBytes(Bytes b) {
  const bool neg = b < 0;
  const double v = std::fabs(static_cast<double>(b));
  std::string out;
  if (v >= static_cast<double>(kGiB)) {
    out = trimZeros(v / static_cast<double>(kGiB), 2) + " GiB";
  } else if (v >= static_cast<double>(kMiB)) {
    out = trimZeros(v / static_cast<double>(kMiB), 1) + " MiB";
  } else if (v >= static_cast<double>(kKiB)) {
    out = trimZeros(v / static_cast<double>(kKiB), 1) + " KiB";
  } else {
    out = trimZeros(v, 0) + " B";
  }
  return neg ? "-" + out : out;
}

std::string formatDuration(Duration d) {
  auto ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  if (ms % 1000 != 0 && ms < 60'000) {
    if (ms < 1000) return out + std::to_string(ms) + "ms";
    return out + trimZeros(static_cast<double>(ms) / 1000.0, 3) + "s";
  }
  const auto days = ms / 86'400'000;
  ms %= 86'400'000;
  const auto hours = ms / 3'600'000;
  ms %= 3'600'000;
  const auto mins = ms / 60'000;
  ms %= 60'000;
  if (days) out += std::to_string(days) + "d";
  if (hours) out += std::to_string(hours) + "h";
  if (mins) out += std::to_string(mins) + "m";
  if (ms) out += trimZeros(static_cast<double>(ms) / 1000.0, 3) + "s";
  return out;
}

}  // namespace memvisor
