#include "format.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace memvisor::ctl {

std::string humanSize(std::int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  const bool neg = bytes < 0;
  double v = std::fabs(static_cast<double>(bytes));
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[48];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%s%.0f B", neg ? "-" : "", v);
  } else {
    std::snprintf(buf, sizeof buf, "%s%.1f %s", neg ? "-" : "", v, units[u]);
  }
  return buf;
}

std::string humanDuration(std::int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::int64_t s = ms / 1000;
  const std::int64_t d = s / 86400, h = (s % 86400) / 3600, m = (s % 3600) / 60;
  s %= 60;
  if (d > 0) return std::to_string(d) + "d " + std::to_string(h) + "h";
  if (h > 0) return std::to_string(h) + "h " + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m " + std::to_string(s) + "s";
  return std::to_string(s) + "s";
}

std::string timestamp(std::int64_t unix_ms, bool millis) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = buf;
  if (millis) {
    char ms[8];
    std::snprintf(ms, sizeof ms, ".%03d", static_cast<int>(unix_ms % 1000));
    out += ms;
  }
  return out;
}

std::string Style::paint(std::string_view text, Color c) const {
  if (!enabled_ || c == Color::kNone) return std::string(text);
  const char* code = "";
  switch (c) {
    case Color::kRed:
      code = "31";
      break;
    case Color::kGreen:
      code = "32";
      break;
    case Color::kYellow:
      code = "33";
      break;
    case Color::kBlue:
      code = "34";
      break;
    case Color::kMagenta:
      code = "35";
      break;
    case Color::kCyan:
      code = "36";
      break;
    case Color::kDim:
      code = "2";
      break;
    case Color::kBold:
      code = "1";
      break;
    case Color::kNone:
      break;
  }
  return "\x1b[" + std::string(code) + "m" + std::string(text) + "\x1b[0m";
}

Color Style::forState(std::string_view s) {
  if (s == "RUNNING") return Color::kGreen;
  if (s == "STARTING" || s == "BACKOFF" || s == "STOPPING") return Color::kYellow;
  if (s == "FATAL" || s == "EXITED" || s == "HUNG") return Color::kRed;
  if (s == "STOPPED") return Color::kDim;
  return Color::kNone;
}

Color Style::forMemoryState(std::string_view s) {
  if (s == "ok") return Color::kGreen;
  if (s == "elevated") return Color::kYellow;
  if (s == "high") return Color::kMagenta;
  if (s == "critical") return Color::kRed;
  return Color::kDim;
}

Color Style::forLevel(std::string_view s) {
  if (s == "error") return Color::kRed;
  if (s == "warn") return Color::kYellow;
  if (s == "debug") return Color::kDim;
  return Color::kNone;
}

bool colorWanted(int fd, bool forced_off) {
  if (forced_off) return false;
  const char* no = std::getenv("NO_COLOR");
  if (no != nullptr && *no != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") return false;
  return ::isatty(fd) == 1;
}

std::string bar(double fraction, int width) {
  if (width <= 0) return "";
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int full = static_cast<int>(std::lround(fraction * width));
  std::string out;
  for (int i = 0; i < width; ++i) out += i < full ? "\u2588" : "\u2591";  // █ ░
  return out;
}

std::string sparkline(const std::vector<std::int64_t>& values, std::int64_t max) {
  static const char* kLevels[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                  "\u2585", "\u2586", "\u2587", "\u2588"};
  std::string out;
  for (auto v : values) {
    if (v < 0) {
      out += " ";
      continue;
    }
    double f = max > 0 ? static_cast<double>(v) / static_cast<double>(max) : 0.0;
    f = std::clamp(f, 0.0, 1.0);
    out += kLevels[std::min(7, static_cast<int>(f * 8.0))];
  }
  return out;
}

std::size_t displayWidth(std::string_view s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b) {  // CSI ... final byte
      while (i < s.size() && !(s[i] >= '@' && s[i] <= '~' && s[i] != '[')) ++i;
      continue;
    }
    if ((c & 0xC0) == 0x80) continue;  // UTF-8 continuation byte
    ++w;
  }
  return w;
}

std::string truncateDisplay(std::string_view s, std::size_t width) {
  std::string out;
  std::size_t w = 0;
  bool cut = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b) {
      const std::size_t start = i;
      while (i < s.size() && !(s[i] >= '@' && s[i] <= '~' && s[i] != '[')) ++i;
      out.append(s.substr(start, i - start + 1));
      continue;
    }
    if ((c & 0xC0) != 0x80) {
      if (w == width) {
        cut = true;
        break;
      }
      ++w;
    }
    out += s[i];
  }
  if (cut && out.find('\x1b') != std::string::npos) out += "\x1b[0m";
  return out;
}

std::string Table::render(const Style& style) const {
  std::vector<std::size_t> widths(header_.size(), 0);
  for (std::size_t i = 0; i < header_.size(); ++i) widths[i] = displayWidth(header_[i]);
  for (const auto& r : rows_) {
    for (std::size_t i = 0; i < r.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], displayWidth(r[i]));
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(widths[i] - displayWidth(cells[i]) + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::vector<std::string> head;
  for (const auto& h : header_) head.push_back(style.paint(h, Color::kBold));
  std::string out = line(head);
  for (const auto& r : rows_) out += line(r);
  return out;
}

}  // namespace memvisor::ctl
