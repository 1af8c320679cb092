// The daemon's clock, injected as the policy's time is: what "now" is for samples, the
// policy's decisions, action durations and settling, the age of a bot's stats and liveness
// round trips. Tests pass their own function to drive time without sleeping; memvisord
// passes steady_clock. (Asio's timers still wait on the real steady clock.)
#pragma once

#include <chrono>
#include <functional>

namespace memvisor::daemon {

using SteadyTime = std::chrono::steady_clock::time_point;
using SteadyNow = std::function<SteadyTime()>;

inline SteadyNow steadyClock() {
  return [] { return std::chrono::steady_clock::now(); };
}

}  // namespace memvisor::daemon
