// ControlServer: memvisord's control endpoint (memvisorctl's side). Owns its Unix socket
// (mode 0600, or 0660 and chowned to a configured group), checks every peer with
// SO_PEERCRED, runs the control handshake, hands requests to the ControlBackend and serves
// journal subscriptions itself. Runs on the daemon's io_context, single-threaded.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memvisor/control/backend.hpp"
#include "memvisor/control/peer_access.hpp"
#include "memvisor/journal/journal.hpp"
#include "memvisor/listener/unix_listener.hpp"
#include "memvisor/result.hpp"

namespace memvisor::control {

// Something the daemon should journal about a control connection.
struct Notice {
  enum class Kind { kRefused, kSlowSubscriberDropped, kProtocolError, kTooManyConnections };
  Kind kind = Kind::kRefused;
  PeerCred peer;
  std::string message;
};
const char* toString(Notice::Kind k);

struct Options {
  std::string path = "/run/memvisor/ctl.sock";  // config::DaemonConfig::control_socket
  std::optional<mode_t> mode;     // default 0600, or 0660 when `group` is set
  std::string group;              // group name or numeric gid; empty = none
  std::vector<uid_t> allow_uids;  // besides root and the daemon's own uid
  std::vector<gid_t> allow_gids;  // besides `group`
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds idle_timeout{60000};   // no request in flight, not following
  std::chrono::milliseconds refusal_linger{1000};  // time to deliver a refusal before close
  // Connections at once. When they are all taken, a peer that is root or memvisord's own
  // uid still gets in: the longest-idle connection (no request running, not following the
  // journal) is closed with `busy` to make room, or, when none is idle, one of
  // `privileged_reserve` extra slots is used (PROTOCOL.md 1).
  std::size_t max_connections = 64;
  std::size_t privileged_reserve = 4;
  std::size_t max_queued_bytes = 1u << 20;  // per connection; a follower beyond it is dropped
  std::string proc_root = "/proc";          // where peers' supplementary groups are read
  std::function<std::int64_t()> now_ms;     // wall clock (unix ms); default system_clock
  std::function<void(const Notice&)> on_notice;
};

class Session;

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, Options options, ControlBackend& backend,
                journal::Journal& journal);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Creates the socket (removing a stale one only if it is a socket that nobody listens
  // on), sets its mode and group, and starts accepting.
  Result<void> start();
  // Closes the acceptor and every connection, unsubscribes followers, unlinks the socket.
  void stop();

  std::size_t connections() const { return sessions_.size(); }
  const std::string& path() const { return options_.path; }

 private:
  friend class Session;
  void onAccepted(boost::asio::local::stream_protocol::socket socket);
  void remove(std::uint64_t session_id);
  // At the cap, for a privileged peer: closes the longest-idle connection other than the
  // newcomer's; false if none is idle.
  bool evictIdle(std::uint64_t newcomer);
  void notify(Notice n) const;

  boost::asio::io_context& io_;
  Options options_;
  ControlBackend& backend_;
  journal::Journal& journal_;
  AccessPolicy policy_;
  listener::UnixListener listener_;
  std::map<std::uint64_t, std::shared_ptr<Session>> sessions_;
  std::uint64_t next_session_ = 1;
};

}  // namespace memvisor::control
