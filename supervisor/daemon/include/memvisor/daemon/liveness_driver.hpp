// LivenessDriver: the I/O half of liveness. While the bot has a session it sends a `ping`
// every liveness.every, counts a pong missing after liveness.deadline as a miss, routes late
// pongs and the lag of each `stats`, and hands every outcome to the pure verdicts of
// policy/liveness.hpp. What a verdict means (journal, restart, metrics) is the owner's:
// `on_change` runs on each hung/recovered change. One ping outstanding at a time (the
// config keeps deadline <= every); one timer for the next ping, one for its deadline.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "memvisor/config/config.hpp"
#include "memvisor/daemon/bot_session.hpp"
#include "memvisor/daemon/clock.hpp"
#include "memvisor/policy/liveness.hpp"

namespace memvisor::daemon {

class LivenessDriver {
 public:
  using Clock = std::chrono::steady_clock;
  struct Hooks {
    std::function<void(const policy::LivenessVerdict&)> on_change;  // hung or recovered
    std::function<void(const policy::LivenessVerdict&)> on_miss;    // each miss (debug)
    std::function<void(double rtt_ms)> on_pong;
  };

  LivenessDriver(boost::asio::io_context& io, Hooks hooks, SteadyNow now = steadyClock());
  ~LivenessDriver();
  LivenessDriver(const LivenessDriver&) = delete;
  LivenessDriver& operator=(const LivenessDriver&) = delete;

  void configure(const config::Liveness& c);
  // A session to ping (a new one starts from "unknown"); null or closed stops pinging.
  void attach(std::shared_ptr<BotSession> session);
  void detach();
  // A `stats` arrived with this event-loop lag.
  void onLag(double lag_ms);

  const policy::LivenessState& state() const { return state_; }
  const config::Liveness& config() const { return config_; }
  const char* name() const { return policy::livenessName(state_, config_); }

 private:
  void schedulePing(std::chrono::milliseconds delay);
  void ping();
  void report(const policy::LivenessVerdict& v);

  boost::asio::io_context& io_;
  Hooks hooks_;
  SteadyNow now_;
  config::Liveness config_;
  policy::LivenessState state_;
  std::shared_ptr<BotSession> session_;
  boost::asio::steady_timer ping_timer_;
  boost::asio::steady_timer deadline_timer_;
  std::uint64_t seq_ = 0;  // the ping outstanding; bumped per ping and per session
  bool outstanding_ = false;
  bool missed_ = false;  // the outstanding ping's deadline passed
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace memvisor::daemon
