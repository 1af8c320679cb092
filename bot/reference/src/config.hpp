// The reference bot's configuration: the seed's run profiles, its environment variables,
// and the workload options; loading collects every bad value before failing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memvisor/result.hpp"
#include "payload_arena.hpp"

namespace memvisor::bot {

// What the seed's environment variables and profiles control.
struct BotConfig {
  std::string profile = "standard";
  std::int64_t messages_limit = 50;   // per channel   CACHE_MESSAGES_LIMIT
  std::int64_t members_limit = 100;   // per guild     CACHE_MEMBERS_LIMIT
  std::int64_t threads_limit = 10;    // per guild     (seed: ThreadManager 10)
  std::int64_t reactions_limit = 0;   // disabled as in the seed
  std::int64_t invites_limit = 0;
  std::int64_t presences_limit = 0;
  std::int64_t sweep_messages_interval_s = 300;   // SWEEP_MESSAGES_INTERVAL_SECONDS
  std::int64_t sweep_messages_lifetime_s = 900;   // SWEEP_MESSAGES_LIFETIME_SECONDS
  std::int64_t sweep_users_interval_s = 1800;     // seed: bot users every 30 minutes
  std::int64_t memory_log_interval_s = 0;         // MEMORY_LOG_INTERVAL_SECONDS, 0 = monitor off
  std::int64_t memory_limit_mb = 384;             // MEMORY_LIMIT_MB, the 80% alert's base
  bool optimizer = false;                         // ENABLE_MEMORY_OPTIMIZER
  std::int64_t optimizer_interval_s = 900;        // MEMORY_OPTIMIZER_INTERVAL_SECONDS
  std::int64_t optimizer_threshold_mb = 200;      // MEMORY_OPTIMIZER_THRESHOLD_MB
};

struct Profile {
  const char* name;
  const char* seed_script;  // the npm script of the seed it models
  const char* summary;
  void (*apply)(BotConfig&);
};
const std::vector<Profile>& profiles();

// Environment lookup seam (tests pass a map; main passes getenv).
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
EnvLookup processEnv();

// Precedence: built-in defaults < profile (flag, else BOT_PROFILE) < environment variables.
// Every bad value is reported, one per line: "CACHE_MESSAGES_LIMIT: expected an integer
// 0..100000, got 'abc'". Error code "bad_config".
Result<BotConfig> loadBotConfig(std::optional<std::string> profile_flag, const EnvLookup& env);

// The workload (synthetic gateway and test modes), from command-line flags.
struct WorkloadConfig {
  double rate = 50;                 // gateway events per second
  std::int64_t guilds = 20;
  std::int64_t channels_per_guild = 10;
  std::int64_t body_min = 16;       // message body bytes (log-uniform between min and max)
  std::int64_t body_max = 2000;
  PayloadLayout layout = PayloadLayout::kSegments;  // where message payloads live
  bool bloat = false;               // cache limits and periodic sweepers off
  std::int64_t leak_bytes_per_s = 0;
  std::int64_t spike_bytes = 0;
  double spike_interval_s = 30;
  double spike_hold_s = 2;
  bool fragment = false;
  std::int64_t fragment_bytes = 128LL << 20;
  std::int64_t fragment_block = 4096;
  bool hang = false;
  double hang_after_s = 0;          // 0: hang at the first command
  bool ignore_commands = false;
  std::uint64_t seed = 1;
  double duration_s = 0;            // 0: run until signalled
  double progress_interval_s = 10;
};

// Validates cross-field rules of the workload ("--body-min must be <= --body-max").
Result<void> validateWorkload(const WorkloadConfig& w);

// "64MiB", "512k", "1G", "4096" -> bytes (binary units; B/K/KiB/M/MiB/G/GiB, any case).
Result<std::int64_t> parseSize(std::string_view text);

}  // namespace memvisor::bot
