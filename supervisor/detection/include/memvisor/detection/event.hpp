// What a kernel notification tells the daemon: "sample this bot now", and from which source.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace memvisor::detection {

enum class Source {
  kV1Threshold,  // a cgroup v1 usage threshold was crossed (either direction) or the group died
  kV2Events,     // cgroup v2 memory.events changed (high/max/oom/oom_kill counters)
  kPsi,          // a PSI trigger fired (stall over the window) or its group died
};
const char* toString(Source source);  // "v1_threshold", "v2_events", "psi"

struct Event {
  Source source = Source::kV1Threshold;
  std::uint64_t threshold_bytes = 0;  // kV1Threshold: which threshold's eventfd fired
  std::string path;                   // the watched file (usage_in_bytes, memory.events, pressure)
  // The watched group or file is gone (cgroup removed): this watcher will not fire again.
  bool gone = false;
};

// Invoked on the io_context thread. Never invoked after stop() returned.
using Callback = std::function<void(const Event&)>;

}  // namespace memvisor::detection
