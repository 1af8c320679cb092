// The Unix-socket listener (see unix_listener.hpp).
#include "memvisor/listener/unix_listener.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "memvisor/errno_error.hpp"

namespace memvisor::listener {

namespace asio = boost::asio;
using stream_protocol = asio::local::stream_protocol;

namespace {

// True when something accepts connections on the socket at `path`.
bool someoneListens(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::optional<PeerCred> peerCredOf(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  PeerCred peer;
  peer.pid = cred.pid;
  peer.uid = cred.uid;
  peer.gid = cred.gid;
  return peer;
}

Result<void> prepareSocketPath(const std::string& path) {
  if (path.empty()) return Error{"bad_config", "socket path is empty"};
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Error{"bad_config", "socket path longer than " +
                                   std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                   " bytes: " + path};
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(parent, ec)) {
      std::filesystem::create_directories(parent, ec);
      if (ec) return Error{"io", "creating " + parent.string() + ": " + ec.message()};
      ::chmod(parent.c_str(), 0755);
    }
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return okResult();
    return errnoError(errno, "checking " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Error{"exists", path + " exists and is not a socket: not removing it"};
  }
  if (someoneListens(path)) {
    return Error{"in_use", path + " is in use (another memvisord running?)"};
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return errnoError(errno, "removing stale socket " + path);
  }
  return okResult();
}

Result<void> UnixListener::open(const ListenOptions& options) {
  close();
  if (auto ok = prepareSocketPath(options.path); !ok) return ok.error();
  path_ = options.path;
  boost::system::error_code ec;
  acceptor_.emplace(io_);
  acceptor_->open(stream_protocol(), ec);
  if (!ec) acceptor_->bind(stream_protocol::endpoint(path_), ec);
  if (ec) {
    acceptor_.reset();
    return Error{"io", path_ + ": bind: " + ec.message()};
  }
  created_ = true;
  ::fcntl(acceptor_->native_handle(), F_SETFD, FD_CLOEXEC);
  // Nobody can connect before listen() below, so there is no window with looser permissions.
  if (::chmod(path_.c_str(), options.mode) != 0) {
    const int err = errno;
    close();
    return errnoError(err, "setting the mode of " + options.path);
  }
  if (options.group && ::chown(path_.c_str(), static_cast<uid_t>(-1), *options.group) != 0) {
    const int err = errno;
    close();
    return errnoError(err, "giving " + options.path + " to group " + std::to_string(*options.group));
  }
  acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    close();
    return Error{"io", options.path + ": listen: " + ec.message()};
  }
  return okResult();
}

void UnixListener::accept(std::function<void(Socket)> on_accept) {
  on_accept_ = std::move(on_accept);
  acceptNext();
}

void UnixListener::acceptNext() {
  if (!acceptor_) return;
  acceptor_->async_accept([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec,
                                                                       Socket socket) {
    if (alive.expired() || ec == asio::error::operation_aborted || !acceptor_) return;
    if (!ec) {
      ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
      on_accept_(std::move(socket));
      acceptNext();
      return;
    }
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
    timer->async_wait([this, alive, timer](boost::system::error_code e) {
      if (!e && !alive.expired()) acceptNext();
    });
  });
}

void UnixListener::close() {
  if (acceptor_) {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
    acceptor_.reset();
  }
  if (created_) {
    ::unlink(path_.c_str());
    created_ = false;
  }
}

}  // namespace memvisor::listener
