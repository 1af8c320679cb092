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
    : io_(io), options_(std::move(options)), backend_(backend), journal_(journal), listener_(io) {
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

  // Set explicitly: the umask must not decide who may connect.
  const mode_t mode = options_.mode.value_or(group_gid ? 0660 : 0600);
  if (auto r = listener_.open({path, mode, group_gid}); !r) return r.error().wrap("control socket");
  listener_.accept([this](local::socket socket) { onAccepted(std::move(socket)); });
  return okResult();
}

void ControlServer::stop() {
  listener_.close();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [id, s] : sessions) s->stopFromServer();
}

void ControlServer::onAccepted(local::socket socket) {
  PeerCred peer;
  if (auto cred = listener::peerCredOf(socket.native_handle())) {
    peer = *cred;
    peer.groups = readGroups(options_.proc_root, cred->pid);
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
