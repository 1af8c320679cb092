#include "memvisor/client/backoff.hpp"

#include <algorithm>

namespace memvisor::client {

std::chrono::milliseconds backoffDelay(const BackoffPolicy& p, std::uint32_t attempt, double u) {
  const std::int64_t lo = std::max<std::int64_t>(1, p.min.count());
  const std::int64_t hi = std::max<std::int64_t>(lo, p.max.count());
  std::int64_t nominal = lo;
  for (std::uint32_t i = 0; i < attempt && nominal < hi; ++i) nominal *= 2;
  nominal = std::min(nominal, hi);
  u = std::clamp(u, 0.0, 1.0);
  const auto half = nominal / 2;
  return std::chrono::milliseconds(half + static_cast<std::int64_t>(u * static_cast<double>(nominal - half)));
}

}  // namespace memvisor::client
