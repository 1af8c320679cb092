#include "memvisor/control/server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "session.hpp"

namespace memvisor::control {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

const char* toString(Notice::Kind k) {
  switch (k) {
    case Notice::Kind::kRefused:
      return "control_refused";
    case Notice::Kind::kSlowSubscriberDropped:
      return "control_subscriber_dropped";
    case Notice::Kind::kProtocolError:
      return "control_protocol_error";
    case Notice::Kind::kTooManyConnections:
      return "control_too_many_connections";
  }
  return "control";
}

namespace {

Error sysError(const std::string& what, int err) {
  return Error{"io", what + ": " + std::strerror(err)};
}

Result<gid_t> resolveGroup(const std::string& group) {
  gid_t gid = 0;
  auto [p, ec] = std::from_chars(group.data(), group.data() + group.size(), gid);
  if (ec == std::errc() && p == group.data() + group.size()) return gid;
  for (std::size_t size = 16384; size <= (1u << 20); size *= 2) {
    std::vector<char> buf(size);
    struct group gr {};
    struct group* found = nullptr;
    const int rc = ::getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &found);
    if (rc == ERANGE) continue;
    if (found != nullptr) return found->gr_gid;
    break;
  }
  return Error{"bad_config", "control socket group \"" + group + "\" does not exist"};
}

// A stale socket is one nobody accepts on; a live one belongs to another memvisord.
Result<void> removeStale(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return okResult();
    return sysError("checking " + path, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Error{"exists", path + " exists and is not a socket; not removing it"};
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sysError("socket", errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::close(fd);
  if (rc == 0) {
    return Error{"in_use", path + " is in use: another memvisord is listening on it"};
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return sysError("removing stale socket " + path, errno);
  }
  return okResult();
}

std::vector<gid_t> readGroups(const std::string& proc_root, pid_t pid) {
  std::ifstream in(proc_root + "/" + std::to_string(pid) + "/status");
  if (!in) return {};  // the peer may have exited already: primary gid only
  std::stringstream ss;
  ss << in.rdbuf();
  return parseStatusGroups(ss.str());
}

}  // namespace

ControlServer::ControlServer(asio::io_context& io, Options options, ControlBackend& backend,
                             journal::Journal& journal)
    : io_(io), options_(std::move(options)), backend_(backend), journal_(journal) {
  if (!options_.now_ms) {
    options_.now_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
}

ControlServer::~ControlServer() { stop(); }

Result<void> ControlServer::start() {
  const std::string& path = options_.path;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Error{"bad_config", "control socket path is too long (" + std::to_string(path.size()) +
                                   " bytes): " + path};
  }
  std::optional<gid_t> group_gid;
  if (!options_.group.empty()) {
    auto g = resolveGroup(options_.group);
    if (!g) return g.error();
    group_gid = *g;
  }
  policy_.uids = {0, ::geteuid()};
  policy_.uids.insert(policy_.uids.end(), options_.allow_uids.begin(), options_.allow_uids.end());
  policy_.gids = options_.allow_gids;
  if (group_gid) policy_.gids.push_back(*group_gid);

  if (auto r = removeStale(path); !r) return r.error().wrap("control socket");
  const auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return sysError("creating directory " + dir + " for the control socket", errno);
    }
  }

  boost::system::error_code ec;
  acceptor_.emplace(io_);
  acceptor_->open(local(), ec);
  if (ec) return Error{"io", "control socket: " + ec.message()};
  acceptor_->bind(local::endpoint(path), ec);
  if (ec) {
    acceptor_.reset();
    return Error{"io", "binding control socket " + path + ": " + ec.message()};
  }
  socket_created_ = true;
  // Set explicitly: the umask must not decide who may connect. Nobody can connect before
  // listen() below, so there is no window with looser permissions.
  const mode_t mode = options_.mode.value_or(group_gid ? 0660 : 0600);
  if (::chmod(path.c_str(), mode) != 0) {
    const int err = errno;
    stop();
    return sysError("setting the mode of " + path, err);
  }
  if (group_gid && ::chown(path.c_str(), static_cast<uid_t>(-1), *group_gid) != 0) {
    const int err = errno;
    stop();
    return sysError("giving " + path + " to group " + options_.group, err);
  }
  acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    stop();
    return Error{"io", "listening on " + path + ": " + ec.message()};
  }
  accept();
  return okResult();
}

void ControlServer::stop() {
  if (acceptor_) {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
    acceptor_.reset();
  }
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [id, s] : sessions) s->stopFromServer();
  if (socket_created_) {
    ::unlink(options_.path.c_str());
    socket_created_ = false;
  }
}

void ControlServer::accept() {
  if (!acceptor_) return;
  acceptor_->async_accept([this](boost::system::error_code ec, local::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_) return;
    if (!ec) {
      onAccepted(std::move(socket));
      accept();
      return;
    }
    // EMFILE and friends: back off instead of spinning on a failing accept.
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
    timer->async_wait([this, timer](boost::system::error_code e) {
      if (!e) accept();
    });
  });
}

void ControlServer::onAccepted(local::socket socket) {
  PeerCred peer;
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    peer.pid = cred.pid;
    peer.uid = cred.uid;
    peer.gid = cred.gid;
    peer.groups = readGroups(options_.proc_root, cred.pid);
  } else {
    // Without credentials nobody is let in.
    peer.uid = static_cast<uid_t>(-1);
    peer.gid = static_cast<gid_t>(-1);
  }
  const std::uint64_t id = next_session_++;
  auto session = std::make_shared<Session>(*this, id, std::move(socket), peer);
  sessions_.emplace(id, session);
  if (!isPermitted(policy_, peer)) {
    const std::string msg = refusalMessage(peer, options_.path);
    notify(Notice{Notice::Kind::kRefused, peer, msg});
    session->refuse(proto::errc::kNotPermitted, msg);
    return;
  }
  const bool privileged = peer.uid == 0 || peer.uid == ::geteuid();
  if (sessions_.size() > options_.max_connections && privileged) {
    // The operator must never be locked out by connections that sit there: evict the
    // longest-idle one, or use a reserved slot.
    if (!evictIdle(id) &&
        sessions_.size() > options_.max_connections + options_.privileged_reserve) {
      const std::string msg = "too many control connections (" +
                              std::to_string(options_.max_connections) + " + " +
                              std::to_string(options_.privileged_reserve) +
                              " reserved, none idle); try again later";
      notify(Notice{Notice::Kind::kTooManyConnections, peer, msg});
      session->refuse(proto::errc::kBusy, msg);
      return;
    }
  } else if (sessions_.size() > options_.max_connections) {
    const std::string msg = "too many control connections (" +
                            std::to_string(options_.max_connections) + "); try again later";
    notify(Notice{Notice::Kind::kTooManyConnections, peer, msg});
    session->refuse(proto::errc::kBusy, msg);
    return;
  }
  session->start();
}

void ControlServer::remove(std::uint64_t session_id) { sessions_.erase(session_id); }

bool ControlServer::evictIdle(std::uint64_t newcomer) {
  std::shared_ptr<Session> victim;
  for (const auto& [id, s] : sessions_) {
    if (id == newcomer || !s->idle()) continue;
    if (!victim || s->lastActive() < victim->lastActive()) victim = s;
  }
  if (!victim) return false;
  const auto idle_for = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - victim->lastActive());
  const std::string msg = "closed after " + std::to_string(idle_for.count()) +
                          " ms idle to make room for a privileged connection (" +
                          std::to_string(options_.max_connections) + " connections at once)";
  notify(Notice{Notice::Kind::kTooManyConnections, victim->peer(), msg});
  // It leaves the table once its error is written (or the linger passed); until then the
  // table holds one more than the cap, and the next privileged peer evicts another.
  victim->refuse(proto::errc::kBusy, msg);
  return true;
}

void ControlServer::notify(Notice n) const {
  if (options_.on_notice) options_.on_notice(n);
}

}  // namespace memvisor::control
