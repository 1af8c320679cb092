// The configuration's keys, one table per section. The validator takes its lists of allowed
// keys from here, and the configuration reference (deploy/CONFIG.md, `memvisord
// --config-reference`) is generated from it: every key with its type, default, range and
// each built-in profile's value. A test keeps deploy/CONFIG.md equal to configReference().
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "memvisor/config/config.hpp"

namespace memvisor::config {

struct KeyInfo {
  std::string key;
  std::string_view type;   // size | duration | string | ...
  std::string_view range;  // what the validator accepts
  std::string_view doc;    // one line
  // A bot's value of this key (bot sections): the default column shows it for a bot
  // without a profile, the profile columns for each built-in profile. Null: `fixed` is the
  // default and profiles do not set the key.
  std::string (*show)(const BotConfig&) = nullptr;
  std::string fixed = {};
};

struct Section {
  std::string_view path;  // "daemon", "bots[]", "bots[].thresholds[]", ...
  std::string_view doc;
  std::vector<KeyInfo> keys;
};

const std::vector<Section>& configSections();
// The key names of the section at `path` (the validator's allowed keys); empty if unknown.
std::vector<std::string> keyNames(std::string_view path);
// The configuration reference in Markdown (deploy/CONFIG.md).
std::string configReference();

}  // namespace memvisor::config
