// Loading, explaining and diffing memvisord configs. memvisord start-up, SIGHUP reload,
// the control `reload` command and `memvisord --check-config` all go through loadConfigFile.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "memvisor/config/config.hpp"
#include "memvisor/result.hpp"

namespace memvisor::config {

// Reads and validates a YAML config. On failure the Error has code "bad_config" and a
// message of one line per problem, ALL problems collected, each
// `file:line:column: bots[1].thresholds[2].at: must be 1%..100%, got 140%`.
// Unreadable file: code "io". Never throws.
Result<Config> loadConfigFile(const std::string& path);
// Same from text; `name` stands for the file name in messages and Config::source.
Result<Config> loadConfigString(std::string_view text, const std::string& name);

// The per-problem lines of a loadConfig* error (for ReloadResult.errors).
std::vector<std::string> errorLines(const Error& e);

// Human explanation for --check-config: per bot the mode, limit, metric, and what memvisord
// does at which MiB (thresholds resolved), periodic/predictive/grace/ceiling, env passed.
std::string explainConfig(const Config& c);

struct ConfigDiff {
  std::vector<std::string> changes;       // one human line per change, for journal/ReloadResult
  std::vector<std::string> added_bots;    // to start
  std::vector<std::string> removed_bots;  // to stop
  std::vector<std::string> changed_bots;  // policy or lifecycle changed: apply in place
  // spawn command/env/cwd/user changed: takes effect at the bot's next (re)start
  std::vector<std::string> respawn_bots;
  bool daemon_changed = false;  // sockets/journal/metrics: need a memvisord restart
  bool empty() const { return changes.empty(); }
};
ConfigDiff diffConfigs(const Config& before, const Config& after);

}  // namespace memvisor::config
