// The monitor's memory alert (the seed's warning at 80 % of the limit), as a pure decision
// with hysteresis: raised once when the figure reaches alert_at, cleared only below
// alert_at - alert_hysteresis, so a bot hovering at the line gives one warning per crossing.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "memvisor/config/config.hpp"

namespace memvisor::policy {

struct AlertState {
  bool on = false;
  std::uint64_t raised = 0;  // crossings so far
};

enum class AlertChange { kNone, kRaised, kCleared };

struct AlertVerdict {
  AlertChange change = AlertChange::kNone;
  std::string message;  // journal-ready
  std::map<std::string, std::string> fields;
};

// One sample of the bot's metric against the monitor's alert and the current limit.
AlertVerdict stepAlert(AlertState& s, const config::Monitor& m, config::Metric metric,
                       config::Bytes limit, config::Bytes figure);

}  // namespace memvisor::policy
