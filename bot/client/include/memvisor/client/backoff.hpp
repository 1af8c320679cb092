// Reconnect pacing for the bot client: capped exponential backoff with jitter, as a pure
// function so the schedule is testable without sleeping.
#pragma once

#include <chrono>
#include <cstdint>

namespace memvisor::client {

struct BackoffPolicy {
  std::chrono::milliseconds min{100};
  std::chrono::milliseconds max{5000};
};

// Delay before reconnect attempt `attempt` (0 = first retry after a failure or a drop).
// The un-jittered delay doubles from `min` up to `max`; `u` in [0,1) picks a point in its
// upper half ("equal jitter"), so bots restarted together do not reconnect in lockstep and
// the delay never falls below half the nominal one.
std::chrono::milliseconds backoffDelay(const BackoffPolicy& p, std::uint32_t attempt, double u);

}  // namespace memvisor::client
