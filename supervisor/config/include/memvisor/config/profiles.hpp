// Built-in run profiles taken from the seed system (standard, ultra, prod, prod-optimized):
// the seed's environment variables for a spawned bot, a limit and graded thresholds.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memvisor/config/config.hpp"

namespace memvisor::config {

struct Profile {
  std::string name;
  std::string summary;
  // CACHE_MESSAGES_LIMIT, CACHE_MEMBERS_LIMIT, SWEEP_MESSAGES_INTERVAL_SECONDS,
  // SWEEP_MESSAGES_LIFETIME_SECONDS, MEMORY_LOG_INTERVAL_SECONDS, ENABLE_MEMORY_OPTIMIZER
  // (prod-optimized also MEMORY_OPTIMIZER_INTERVAL_SECONDS=900, _THRESHOLD_MB=200)
  std::map<std::string, std::string> env;
  // limit, thresholds, hysteresis, periodic, grace, hard ceiling, ... (a bot's keys override
  // these one by one; a bot's `thresholds:` or `periodic:` list replaces the profile's list)
  PolicyConfig policy;
  std::optional<SizeSpec> kernel_limit_margin;  // BotConfig::kernel_limit_margin default
  Liveness liveness;  // see profileLiveness() for why these figures
  Monitor monitor;    // log_every comes from MEMORY_LOG_INTERVAL_SECONDS above
};

const std::vector<Profile>& builtinProfiles();
const Profile* findProfile(std::string_view name);

// The graded ladder every built-in profile uses: 70% trim, 80% sweep, 90% compact (each
// sustained 2 samples, 1 MiB min_freed), 100% restart (sustained 10 s); with hysteresis 5%
// and a hard ceiling of 110% (restart at once) in every profile.
std::vector<Threshold> defaultThresholds();
// A bot's values before its own keys apply: the profile's, or without one (nullptr) the
// default ladder and hard ceiling with no limit (so `limit:` is required).
BotConfig botDefaults(const Profile* profile);

}  // namespace memvisor::config
