#include "memvisor/control/peer_access.hpp"

#include <algorithm>
#include <charconv>

namespace memvisor::control {

bool isPermitted(const AccessPolicy& policy, const PeerCred& peer) {
  auto has = [](const auto& v, auto x) { return std::find(v.begin(), v.end(), x) != v.end(); };
  if (has(policy.uids, peer.uid)) return true;
  if (has(policy.gids, peer.gid)) return true;
  return std::any_of(peer.groups.begin(), peer.groups.end(),
                     [&](gid_t g) { return has(policy.gids, g); });
}

std::string refusalMessage(const PeerCred& peer, std::string_view socket_path) {
  return "uid " + std::to_string(peer.uid) + " (gid " + std::to_string(peer.gid) +
         ") is not permitted to use the control socket " + std::string(socket_path) +
         "; allow it with daemon.allowed_uids or daemon.allowed_gids in memvisord's config";
}

std::vector<gid_t> parseStatusGroups(std::string_view text) {
  std::vector<gid_t> out;
  const std::string_view key = "Groups:";
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(at, eol - at);
    at = eol + 1;
    if (line.substr(0, key.size()) != key) continue;
    line.remove_prefix(key.size());
    while (!line.empty()) {
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      if (line.empty()) break;
      gid_t g = 0;
      auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), g);
      if (ec != std::errc()) break;  // malformed: keep what was read
      out.push_back(g);
      line.remove_prefix(static_cast<std::size_t>(p - line.data()));
    }
    break;
  }
  return out;
}

}  // namespace memvisor::control
