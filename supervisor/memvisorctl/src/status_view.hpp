// How memvisorctl shows a bot's own figures (its latest `stats`) and its liveness: the
// compact cells of `status` and `top`, and the full `status -v` / `show BOT` view.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "format.hpp"
#include "memvisor/proto/messages.hpp"

namespace memvisor::ctl {

// "89.4/112.1 MiB" (heap used / total), "stale", or "-" without stats.
std::string heapCell(const proto::BotStatus& b);
// "1.2 ms", "stale", or "-".
std::string lagCell(const proto::BotStatus& b);
// STATE cell: the process state, "HUNG" instead of RUNNING (or STARTING) for a hung bot.
std::string stateText(const proto::BotStatus& b);
// Everything memvisord says about one bot, a `key: value` block.
void printBotDetail(std::ostream& out, const proto::BotStatus& b, const Style& st,
                    std::int64_t now_ms);

}  // namespace memvisor::ctl
