// The bot socket's session table (the listening socket is a listener::UnixListener).
#include "memvisor/daemon/bot_server.hpp"

#include <sys/socket.h>

namespace memvisor::daemon {

namespace asio = boost::asio;
using asio::local::stream_protocol;

BotServer::BotServer(asio::io_context& io, BotServerOptions options, SessionHooks hooks)
    : io_(io), options_(std::move(options)), hooks_(std::move(hooks)), listener_(io) {}

BotServer::~BotServer() {
  stop();
  *alive_ = false;
}

Result<void> BotServer::start() {
  if (auto ok = listener_.open({options_.path, options_.mode, std::nullopt}); !ok) {
    return ok.error().wrap("bot socket");
  }
  listener_.accept([this](stream_protocol::socket socket) { onAccepted(std::move(socket)); });
  return okResult();
}

void BotServer::onAccepted(stream_protocol::socket socket) {
  const PeerCred peer = listener::peerCredOf(socket.native_handle()).value_or(PeerCred{});
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
  listener_.close();
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [id, s] : sessions) s->close("memvisord stopping");
}

}  // namespace memvisor::daemon
