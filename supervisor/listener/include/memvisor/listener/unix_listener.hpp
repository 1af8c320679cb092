// UnixListener: a listening Unix stream socket at a path, for the bot socket and the control
// socket alike. Opening checks the path (length, parent directory created 0755), removes a
// stale socket (a socket file nobody accepts on) but never another file nor a live socket
// (error codes "exists", "in_use"), binds, sets the mode (and group) explicitly before
// listen() so the umask never decides who may connect, and listens. Accepted sockets are
// close-on-exec (bots are spawned from this process). Closing unlinks the file it created.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memvisor/result.hpp"

namespace memvisor::listener {

// A connected peer's credentials (SO_PEERCRED), for the bot socket's and the control
// socket's access decisions. `groups`: supplementary groups, when the caller looked them up.
struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};
// The credentials of the peer of a connected Unix socket; nullopt when the kernel gives none.
std::optional<PeerCred> peerCredOf(int fd);

struct ListenOptions {
  std::string path;
  mode_t mode = 0600;
  std::optional<gid_t> group;  // chown the socket to this group
};

// Removes a stale socket at `path` after creating its parent directory; ok when the path is
// free. Errors: bad_config (empty or too long), exists (not a socket), in_use (someone
// accepts on it), io.
Result<void> prepareSocketPath(const std::string& path);

class UnixListener {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;
  explicit UnixListener(boost::asio::io_context& io) : io_(io) {}
  ~UnixListener() { close(); }
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  Result<void> open(const ListenOptions& options);
  // Accepts until close(); a failing accept (EMFILE and friends) is retried after 100 ms
  // instead of spinning.
  void accept(std::function<void(Socket)> on_accept);
  // Stops accepting; unlinks the socket file if open() created it. Idempotent.
  void close();
  bool listening() const { return acceptor_.has_value(); }

 private:
  void acceptNext();

  boost::asio::io_context& io_;
  std::string path_;
  std::optional<boost::asio::local::stream_protocol::acceptor> acceptor_;
  std::function<void(Socket)> on_accept_;
  bool created_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace memvisor::listener
