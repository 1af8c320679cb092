// The bot socket's acceptor and session table.
#include "memvisor/daemon/bot_server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "memvisor/daemon/pidfd.hpp"

namespace memvisor::daemon {

namespace asio = boost::asio;
using asio::local::stream_protocol;

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
  if (::unlink(path.c_str()) != 0) return errnoError(errno, "removing stale socket " + path);
  return okResult();
}

BotServer::BotServer(asio::io_context& io, BotServerOptions options, SessionHooks hooks)
    : io_(io), options_(std::move(options)), hooks_(std::move(hooks)) {}

BotServer::~BotServer() {
  stop();
  *alive_ = false;
}

Result<void> BotServer::start() {
  if (auto ok = prepareSocketPath(options_.path); !ok) return ok.error().wrap("bot socket");
  boost::system::error_code ec;
  acceptor_.emplace(io_);
  acceptor_->open(stream_protocol(), ec);
  if (!ec) acceptor_->bind(stream_protocol::endpoint(options_.path), ec);
  if (ec) {
    acceptor_.reset();
    return Error{"io", "bot socket " + options_.path + ": bind: " + ec.message()};
  }
  created_ = true;
  ::fcntl(acceptor_->native_handle(), F_SETFD, FD_CLOEXEC);
  if (::chmod(options_.path.c_str(), options_.mode) != 0) {
    const int err = errno;
    stop();
    return errnoError(err, "bot socket: chmod " + options_.path);
  }
  acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    stop();
    return Error{"io", "bot socket " + options_.path + ": listen: " + ec.message()};
  }
  accept();
  return okResult();
}

void BotServer::accept() {
  acceptor_->async_accept([this, alive = std::weak_ptr<bool>(alive_)](
                              boost::system::error_code ec, stream_protocol::socket socket) {
    if (alive.expired() || !acceptor_ || !acceptor_->is_open()) return;
    if (!ec) {
      onAccepted(std::move(socket));
    } else if (ec == asio::error::operation_aborted) {
      return;
    }
    // EMFILE and friends: keep accepting; the failed connection is simply lost.
    accept();
  });
}

void BotServer::onAccepted(stream_protocol::socket socket) {
  ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
  PeerCred peer;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    peer = PeerCred{cred.pid, cred.uid, cred.gid};
  }
  const std::uint64_t id = next_id_++;
  auto session =
      std::make_shared<BotSession>(std::move(socket), peer, hooks_, options_.session, id,
                                   [this, alive = std::weak_ptr<bool>(alive_)](std::uint64_t gone) {
                                     if (!alive.expired()) sessions_.erase(gone);
                                   });
  if (sessions_.size() >= options_.max_connections) {
    if (hooks_.on_notice) hooks_.on_notice(peer, "too_many_connections", "connection refused");
    session->close("too many connections");
    return;
  }
  sessions_.emplace(id, session);
  session->start();
}

void BotServer::stop() {
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
    acceptor_.reset();
  }
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [id, s] : sessions) s->close("memvisord stopping");
  if (created_) {
    ::unlink(options_.path.c_str());
    created_ = false;
  }
}

}  // namespace memvisor::daemon
