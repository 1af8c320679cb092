// Reading a /metrics scrape in the integration tests (freePort and httpGet are in
// daemon_harness.hpp).
#pragma once

#include <cstdlib>
#include <string>

#include "daemon_harness.hpp"

namespace memvisor::testing {

// The value of the sample line `series value` ("name{labels}" exactly as exposed); false
// when the series is absent from the scrape.
inline bool metricValue(const std::string& body, const std::string& series, double& out) {
  std::size_t pos = 0;
  while ((pos = body.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || body[pos - 1] == '\n') {
      out = std::atof(body.c_str() + pos + series.size() + 1);
      return true;
    }
    pos += series.size();
  }
  return false;
}

}  // namespace memvisor::testing
