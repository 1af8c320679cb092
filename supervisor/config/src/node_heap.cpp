#include "memvisor/config/node_heap.hpp"

#include <charconv>
#include <sstream>

#include "memvisor/config/units.hpp"

namespace memvisor::config {
namespace {

constexpr std::string_view kFlag = "--max-old-space-size=";

// The MiB of the last --max-old-space-size=N among whitespace-separated words (last wins, as
// in node).
std::optional<Bytes> oldSpaceFlag(const std::vector<std::string>& words) {
  std::optional<Bytes> out;
  for (const auto& w : words) {
    if (w.rfind(kFlag, 0) != 0) continue;
    std::int64_t mib = 0;
    const char* b = w.data() + kFlag.size();
    auto [p, ec] = std::from_chars(b, w.data() + w.size(), mib);
    if (ec == std::errc() && p != b && mib > 0) out = mib * kMiB;
  }
  return out;
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

std::string nodeOptionsFor(Bytes limit) {
  return std::string(kFlag) + std::to_string(limit / kMiB);
}

bool isNodeCommand(const std::vector<std::string>& command) {
  if (command.empty()) return false;
  const auto& a = command.front();
  const auto base = a.substr(a.find_last_of('/') == std::string::npos ? 0 : a.find_last_of('/') + 1);
  return base == "node" || base == "nodejs";
}

std::optional<Bytes> expectedNodeHeapLimit(const BotConfig& b) {
  // Command-line flags come after NODE_OPTIONS in node's order, so they win.
  if (auto f = oldSpaceFlag(b.spawn.command)) return f;
  if (auto it = b.spawn.env.find("NODE_OPTIONS"); it != b.spawn.env.end()) {
    if (auto f = oldSpaceFlag(words(it->second))) return f;
  }
  if (b.kernel_limit_margin) {
    const Bytes kernel = b.policy.limit + b.kernel_limit_margin->resolve(b.policy.limit);
    return kernel / 2 + 19 * kMiB;  // measured: 259 MiB for 480 MiB (V8's young generation on top)
  }
  return std::nullopt;
}

std::vector<std::string> nodeHeapWarnings(const Config& c) {
  std::vector<std::string> out;
  for (const auto& b : c.bots) {
    if (b.mode != Mode::kSpawn || !isNodeCommand(b.spawn.command)) continue;
    const auto heap = expectedNodeHeapLimit(b);
    if (!heap) continue;
    // The highest figure memvisord acts at below the hard ceiling: a heap limit under it
    // means V8 aborts the bot before that step (or the restart) can run.
    std::optional<Bytes> top;
    std::string top_action;
    for (const auto& t : b.policy.thresholds) {
      if (t.action == ActionKind::kAlert) continue;
      const Bytes at = t.at.resolve(b.policy.limit);
      if (!top || at > *top) {
        top = at;
        top_action = toString(t.action);
      }
    }
    if (!top || *heap >= *top) continue;
    out.push_back("bot " + b.name + ": node would get a V8 heap limit of about " + formatBytes(*heap) +
                  ", below memvisord's " + top_action + " at " + formatBytes(*top) +
                  ": it would die with \"JavaScript heap out of memory\" before memvisord acts; add " +
                  "NODE_OPTIONS: \"" + nodeOptionsFor(b.policy.limit) + "\" to spawn.env (the profiles do)");
  }
  return out;
}

}  // namespace memvisor::config
