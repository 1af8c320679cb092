// The config's sizes and durations are memvisor's (memvisor/units.hpp, in the common
// library): the same names under memvisor::config.
#pragma once

#include "memvisor/units.hpp"

namespace memvisor::config {

using memvisor::Bytes;
using memvisor::Duration;
using memvisor::formatBytes;
using memvisor::formatDuration;
using memvisor::kGiB;
using memvisor::kKiB;
using memvisor::kMiB;
using memvisor::parseDuration;
using memvisor::parseSize;
using memvisor::SizeSpec;

}  // namespace memvisor::config
