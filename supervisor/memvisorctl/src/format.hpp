// Text helpers of memvisorctl: sizes and durations as a table shows them (one decimal,
// two units; parsing is memvisor/units.hpp, as in the config), colour that is only used on a
// terminal, bars and sparklines, and a table that aligns coloured cells.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memvisor/result.hpp"

namespace memvisor::ctl {

// "212.4 MiB", "900.0 KiB", "12 B"; negative sizes keep their sign.
std::string humanSize(std::int64_t bytes);
// "2d 3h", "3h 12m", "4m 10s", "12s", "340ms".
std::string humanDuration(std::int64_t ms);
// "2026-11-25 19:10:28" (local time), or with ".123" when `millis`.
std::string timestamp(std::int64_t unix_ms, bool millis);

enum class Color { kNone, kRed, kGreen, kYellow, kBlue, kMagenta, kCyan, kDim, kBold };

class Style {
 public:
  explicit Style(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }
  std::string paint(std::string_view text, Color c) const;
  // Colour of a supervisord state / memory state / journal level.
  static Color forState(std::string_view state);
  static Color forMemoryState(std::string_view state);
  static Color forLevel(std::string_view level);

 private:
  bool enabled_;
};

// Decides colour: only when the stream is a terminal, never with NO_COLOR or TERM=dumb.
bool colorWanted(int fd, bool forced_off);

// "[#####.....]" style bar of `width` cells using block characters.
std::string bar(double fraction, int width);
// One character per value, scaled to 0..max ("▁▂▃▄▅▆▇█").
std::string sparkline(const std::vector<std::int64_t>& values, std::int64_t max);

// Terminal columns of a string: ANSI escapes are zero-width, UTF-8 sequences one column.
std::size_t displayWidth(std::string_view s);

// Cuts `s` to `width` terminal columns, keeping colour escapes intact.
std::string truncateDisplay(std::string_view s, std::size_t width);

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render(const Style& style) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace memvisor::ctl
