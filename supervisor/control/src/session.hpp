// One control connection: handshake, requests to the backend, journal subscription, and a
// bounded write queue. Owned by ControlServer; every async handler holds `self`.
#pragma once

#include <array>
#include <chrono>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memvisor/control/server.hpp"
#include "memvisor/proto/codec.hpp"
#include "memvisor/proto/framer.hpp"

namespace memvisor::control {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ControlServer& server, std::uint64_t id,
          boost::asio::local::stream_protocol::socket socket, PeerCred peer);

  void start();
  // Sends one ErrorMsg, then closes once it is written (or after the linger time).
  void refuse(const std::string& code, const std::string& message);
  // Closes now without telling the server (the server is stopping).
  void stopFromServer();

  // Nothing running for the peer: no request pending, not following, nothing to write,
  // not already closing. Such a connection may be evicted for a privileged one.
  bool idle() const;
  std::chrono::steady_clock::time_point lastActive() const { return last_active_; }
  const PeerCred& peer() const { return peer_; }
  std::uint64_t id() const { return id_; }

 private:
  void read();
  void onFrame(const std::string& frame);
  void dispatch(proto::Message m);
  void subscribe(const proto::Subscribe& s);
  void onLive(const proto::JournalEntry& e);
  void reply(proto::Message m);
  bool enqueue(std::string frame, bool bounded);
  void write();
  void pump();
  void armTimer(std::chrono::milliseconds d);
  void onTimer();
  void fail(const std::string& code, const std::string& message, std::optional<std::uint64_t> id);
  void drop(Notice::Kind kind, const std::string& message);
  void close();

  ControlServer* server_;
  std::uint64_t id_;
  boost::asio::local::stream_protocol::socket socket_;
  boost::asio::steady_timer timer_;
  PeerCred peer_;
  proto::Framer framer_;
  proto::HandshakeState handshake_{proto::HandshakeState::Side::kDaemon};
  std::array<char, 4096> buf_{};

  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closing_ = false;  // close once the queue is written
  bool closed_ = false;
  int pending_ = 0;  // backend requests not yet answered
  bool parts_ = false;  // the client announced capability "parts": large answers in parts
  std::chrono::steady_clock::time_point last_active_ = std::chrono::steady_clock::now();

  // Journal subscription: backlog streamed as the queue drains, then Ack, then live.
  bool subscribed_ = false;
  std::optional<std::string> sub_bot_;
  std::uint64_t sub_id_ = 0;
  std::uint64_t sub_token_ = 0;
  bool acked_ = false;
  std::vector<proto::JournalEntry> backlog_;
  std::size_t backlog_pos_ = 0;
  std::deque<std::string> live_pending_;
  std::size_t live_pending_bytes_ = 0;
};

}  // namespace memvisor::control
