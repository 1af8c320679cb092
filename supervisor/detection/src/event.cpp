// Names of detection sources, for log lines.
#include "memvisor/detection/event.hpp"

namespace memvisor::detection {

const char* toString(Source source) {
  switch (source) {
    case Source::kV1Threshold: return "v1_threshold";
    case Source::kV2Events: return "v2_events";
    case Source::kPsi: return "psi";
  }
  return "unknown";
}

}  // namespace memvisor::detection
