// Who may use the control socket: a pure check of a peer's SO_PEERCRED credentials (and
// its supplementary groups) against the allowed uids and gids.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "memvisor/listener/unix_listener.hpp"

namespace memvisor::control {

using listener::PeerCred;  // supplementary groups filled in by the control server

struct AccessPolicy {
  std::vector<uid_t> uids;  // root and the daemon's own uid are always added by the server
  std::vector<gid_t> gids;
};

// True when the peer's uid, primary gid or one of its supplementary groups is allowed.
bool isPermitted(const AccessPolicy& policy, const PeerCred& peer);

// The words a refused client sees (and the journal records).
std::string refusalMessage(const PeerCred& peer, std::string_view socket_path);

// Supplementary groups from the text of /proc/<pid>/status ("Groups:\t4 24 27").
std::vector<gid_t> parseStatusGroups(std::string_view status_text);

}  // namespace memvisor::control
