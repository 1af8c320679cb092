// The many-bots view of `memvisorctl top`: when the per-bot panels do not fit the screen
// (a host with dozens to thousands of bots), a summary line of counts, then one line per
// bot, the bots closest to their limit first, scrolled with the arrow keys. Pure helpers,
// unit-tested; top.cpp draws them.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "memvisor/proto/messages.hpp"

namespace memvisor::ctl {

// "1000 bots: 997 RUNNING, 2 BACKOFF, 1 FATAL | memory: 990 ok, 8 elevated, 2 high |
// 3 restarts, 1 OOM kill | 12 not connected"; states and memory states in a fixed order,
// zero counts left out.
std::string summaryLine(const std::vector<proto::BotStatus>& bots);

// The bots ordered for the list: highest metric/limit first (the ones to watch), bots
// without a figure last, ties by name.
std::vector<const proto::BotStatus*> byUse(const std::vector<proto::BotStatus>& bots);

// The first row to show so that `rows` rows starting there stay within `total` rows.
std::size_t clampScroll(std::ptrdiff_t first, std::size_t rows, std::size_t total);

}  // namespace memvisor::ctl
