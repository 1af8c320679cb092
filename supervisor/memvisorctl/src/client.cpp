#include "client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "memvisor/proto/codec.hpp"
#include "memvisor/proto/parts.hpp"

namespace memvisor::ctl {

namespace {

Error connectError(const std::string& path, int err) {
  switch (err) {
    case ENOENT:
      return Error{kCannotConnect, path + " does not exist (is memvisord running?)"};
    case ECONNREFUSED:
      return Error{kCannotConnect, path +
                                       ": connection refused (memvisord is not running; the "
                                       "socket file is left over)"};
    case EACCES:
    case EPERM:
      return Error{proto::errc::kNotPermitted,
                   path +
                       ": permission denied (only root, memvisord's user and the control "
                       "group may use it)"};
    case ENOTSOCK:
      return Error{kCannotConnect, path + " is not a socket"};
    default:
      return Error{kCannotConnect, path + ": " + std::strerror(err)};
  }
}

std::uint64_t* idOf(proto::Message& m) {
  return std::visit(
      [](auto& x) -> std::uint64_t* {
        if constexpr (requires { x.id; }) {
          if constexpr (std::is_same_v<std::decay_t<decltype(x.id)>, std::uint64_t>) {
            return &x.id;
          }
        }
        return nullptr;
      },
      m);
}

std::optional<std::uint64_t> replyId(const proto::Message& m) {
  return std::visit(
      [](const auto& x) -> std::optional<std::uint64_t> {
        if constexpr (requires { x.id; }) return std::optional<std::uint64_t>(x.id);
        return std::nullopt;
      },
      m);
}

}  // namespace

int exitCodeFor(const Error& e) {
  if (e.code == proto::errc::kNotPermitted) return kExitNotPermitted;
  if (e.code == kCannotConnect || e.code == kDisconnected || e.code == proto::errc::kTimeout ||
      e.code == proto::errc::kIncompatibleVersion) {
    return kExitNoConnect;
  }
  return kExitFailed;
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

Client::Client(Client&& o) noexcept
    : fd_(o.fd_),
      path_(std::move(o.path_)),
      framer_(std::move(o.framer_)),
      next_id_(o.next_id_),
      daemon_pid_(o.daemon_pid_) {
  o.fd_ = -1;
}

Client& Client::operator=(Client&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
    path_ = std::move(o.path_);
    framer_ = std::move(o.framer_);
    next_id_ = o.next_id_;
    daemon_pid_ = o.daemon_pid_;
  }
  return *this;
}

Result<Client> Client::connect(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return Error{kCannotConnect, path + ": socket path too long"};
  }
  Client c;
  c.path_ = path;
  c.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.fd_ < 0) return Error{kCannotConnect, std::string("socket: ") + std::strerror(errno)};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(c.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return connectError(path, errno);
  }
  proto::Hello hello;
  hello.role = proto::Role::kControl;
  hello.pid = ::getpid();
  hello.name = "memvisorctl";
  hello.capabilities = {proto::cap::kParts};  // status of any number of bots (1.1)
  // A refused client gets an ErrorMsg before its hello is read; a failed write must not
  // hide it, so the reply is read even when the send fails.
  auto sent = c.send(hello);
  auto reply = c.receive(timeout);
  if (!reply) {
    if (!sent) return sent.error().wrap("handshake with memvisord on " + path);
    return reply.error().wrap("handshake with memvisord on " + path);
  }
  if (const auto* err = std::get_if<proto::ErrorMsg>(&*reply)) {
    return Error{err->code, err->message};
  }
  const auto* welcome = std::get_if<proto::Welcome>(&*reply);
  if (welcome == nullptr) {
    return Error{proto::errc::kUnexpected, "memvisord on " + path + " answered hello with \"" +
                                               proto::typeName(*reply) + "\""};
  }
  c.daemon_pid_ = welcome->pid;
  return c;
}

Result<void> Client::send(const proto::Message& m) {
  const std::string frame = proto::encodeFrame(m);
  std::size_t off = 0;
  while (off < frame.size()) {
    const ssize_t n = ::send(fd_, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{kDisconnected, std::string("sending to memvisord: ") + std::strerror(errno)};
    }
    off += static_cast<std::size_t>(n);
  }
  return okResult();
}

Result<proto::Message> Client::receive(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string frame;
  char buf[8192];
  bool first = true;
  while (true) {
    const auto st = framer_.next(frame);
    if (st == proto::Framer::Status::kFrame) {
      auto m = proto::decode(frame);
      if (!m) return m.error().wrap("reply from memvisord");
      return m;
    }
    if (st == proto::Framer::Status::kTooLarge) {
      return Error{proto::errc::kFrameTooLarge, "memvisord sent a frame that is too large"};
    }
    int wait_ms = -1;
    if (timeout.count() >= 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      // A zero timeout still looks at the socket once.
      if (left <= 0 && !first)
        return Error{proto::errc::kTimeout, "memvisord did not answer in time"};
      wait_ms = static_cast<int>(std::max<std::int64_t>(0, left));
    }
    first = false;
    pollfd p{fd_, POLLIN, 0};
    const int pr = ::poll(&p, 1, wait_ms);
    if (pr < 0) {
      if (errno == EINTR) return Error{"interrupted", "interrupted"};
      return Error{kDisconnected, std::string("poll: ") + std::strerror(errno)};
    }
    if (pr == 0) continue;  // re-check the deadline
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return Error{kDisconnected, "memvisord closed the connection"};
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{kDisconnected, std::string("reading from memvisord: ") + std::strerror(errno)};
    }
    framer_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

Result<proto::Message> Client::request(proto::Message m, std::chrono::milliseconds timeout) {
  const std::uint64_t id = nextId();
  if (auto* p = idOf(m)) *p = id;
  if (auto s = send(m); !s) return s.error();
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto r = receive(left.count() > 0 ? left : std::chrono::milliseconds(0));
    if (!r) return r;
    const auto rid = replyId(*r);
    // Connection-level errors (no id) concern us too; other ids are stale replies.
    if (const auto* e = std::get_if<proto::ErrorMsg>(&*r); e && !e->id) return r;
    if (rid && *rid == id) return collectParts(std::move(r.value()), deadline);
  }
}

Result<proto::Message> Client::collectParts(proto::Message first, Clock::time_point deadline) {
  // Parts of one answer come back to back (PROTOCOL.md 7.6); a connection-level error or
  // a lost connection between them fails the whole request.
  while (proto::hasMore(first)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto r = receive(left.count() > 0 ? left : std::chrono::milliseconds(0));
    if (!r) return r.error().wrap("receiving the rest of a " + proto::typeName(first));
    if (const auto* e = std::get_if<proto::ErrorMsg>(&*r); e && !e->id) return r;
    if (auto a = proto::appendPart(first, *r); !a) return a.error();
  }
  return first;
}

}  // namespace memvisor::ctl
