#include "top_list.hpp"

#include <algorithm>
#include <map>

namespace memvisor::ctl {

namespace {

// A count per name, in the given order first, other names after them.
std::string counts(const std::map<std::string, std::size_t>& by,
                   const std::vector<std::string>& order) {
  std::string out;
  auto add = [&](const std::string& name, std::size_t n) {
    if (n == 0) return;
    out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + name;
  };
  for (const auto& name : order) {
    auto it = by.find(name);
    if (it != by.end()) add(name, it->second);
  }
  for (const auto& [name, n] : by) {
    if (std::find(order.begin(), order.end(), name) == order.end()) add(name, n);
  }
  return out;
}

double useOf(const proto::BotStatus& b) {
  if (!b.metric_bytes || b.limit_bytes <= 0) return -1;
  return static_cast<double>(*b.metric_bytes) / static_cast<double>(b.limit_bytes);
}

}  // namespace

std::string summaryLine(const std::vector<proto::BotStatus>& bots) {
  std::map<std::string, std::size_t> states, memory;
  std::int64_t restarts = 0, ooms = 0;
  std::size_t disconnected = 0;
  for (const auto& b : bots) {
    ++states[b.state];
    ++memory[b.memory_state];
    restarts += b.restarts;
    ooms += b.oom_kills;
    if (b.state == "RUNNING" && !b.connected) ++disconnected;
  }
  std::string s = std::to_string(bots.size()) + (bots.size() == 1 ? " bot" : " bots");
  if (bots.empty()) return s;
  s += ": " + counts(states, {"RUNNING", "STARTING", "BACKOFF", "STOPPING", "STOPPED", "EXITED",
                              "FATAL"});
  s += " | memory: " + counts(memory, {"ok", "elevated", "high", "critical", "unknown"});
  s += " | " + std::to_string(restarts) + (restarts == 1 ? " restart, " : " restarts, ") +
       std::to_string(ooms) + (ooms == 1 ? " OOM kill" : " OOM kills");
  if (disconnected > 0) s += " | " + std::to_string(disconnected) + " running without a session";
  return s;
}

std::vector<const proto::BotStatus*> byUse(const std::vector<proto::BotStatus>& bots) {
  std::vector<const proto::BotStatus*> out;
  out.reserve(bots.size());
  for (const auto& b : bots) out.push_back(&b);
  std::stable_sort(out.begin(), out.end(), [](const auto* a, const auto* b) {
    const double ua = useOf(*a), ub = useOf(*b);
    if (ua != ub) return ua > ub;
    return a->name < b->name;
  });
  return out;
}

std::size_t clampScroll(std::ptrdiff_t first, std::size_t rows, std::size_t total) {
  if (first < 0 || total <= rows) return 0;
  return std::min(static_cast<std::size_t>(first), total - rows);
}

}  // namespace memvisor::ctl
