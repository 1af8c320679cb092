// The V8 heap as a limit of its own (issue 9): a Node bot dies with "JavaScript heap out of
// memory" when its heap reaches V8's heap_size_limit, whatever its RSS. The bot reports both
// figures in `stats` (heap_used_bytes, heap_limit_bytes, protocol 1.1); memvisord alerts when
// the heap crosses `at` percent of that limit, as the seed's memory monitor does at 80 %, once
// per excursion (re-armed below at - hysteresis). Pure: the daemon feeds each stats.
#pragma once

#include <cstdint>
#include <optional>

#include "memvisor/policy/policy.hpp"

namespace memvisor::policy {

struct HeapWatch {
  double at_percent = 80;
  double hysteresis_percent = 5;
  bool armed = true;
};

// A "threshold" note (warn) when armed and used >= at% of limit; a "recovered" note (info)
// when it falls back below (at - hysteresis)%. Nothing without both figures.
std::optional<Note> watchHeap(HeapWatch& w, std::optional<std::int64_t> used, std::optional<std::int64_t> limit);

}  // namespace memvisor::policy
