// V8's heap limit for Node.js bots (issue 9). Node sizes its heap limit from the cgroup's
// memory limit (MACHINE-FACTS: 259 MiB in a 480 MiB v1 cgroup, about half of it), and past
// that limit a bot aborts with "JavaScript heap out of memory" whatever its RSS: below
// memvisord's compact and restart thresholds, so memvisord never gets to act. The profiles
// set NODE_OPTIONS=--max-old-space-size=<limit in MiB>: V8's heap lives inside the RSS, so a
// heap allowed to grow to the RSS limit cannot hit its own ceiling before memvisord's restart
// threshold (100%) and hard ceiling (110%) do. Pure functions of the config.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "memvisor/config/config.hpp"

namespace memvisor::config {

// The NODE_OPTIONS value a profile gives a bot with limit `limit`.
std::string nodeOptionsFor(Bytes limit);

// True when argv[0] of `command` is a Node.js binary (node, nodejs, any directory).
bool isNodeCommand(const std::vector<std::string>& command);

// The V8 heap limit a spawned node bot would get, about: --max-old-space-size from its
// arguments or NODE_OPTIONS, else half the kernel limit memvisord sets on its cgroup; nullopt
// when neither is known (Node then sizes from the host's memory).
std::optional<Bytes> expectedNodeHeapLimit(const BotConfig& b);

// `--check-config` warnings: a node bot whose heap limit would be below the thresholds
// memvisord acts at, each naming the bot, the figures and what to write instead.
std::vector<std::string> nodeHeapWarnings(const Config& c);

}  // namespace memvisor::config
