// Pings over the bot session, deadlines, late pongs -> policy::liveness verdicts.
#include "memvisor/daemon/liveness_driver.hpp"

#include <algorithm>

namespace memvisor::daemon {

using std::chrono::milliseconds;

LivenessDriver::LivenessDriver(boost::asio::io_context& io, Hooks hooks, SteadyNow now)
    : io_(io), hooks_(std::move(hooks)), now_(std::move(now)), ping_timer_(io), deadline_timer_(io) {}

LivenessDriver::~LivenessDriver() {
  *alive_ = false;
  ping_timer_.cancel();
  deadline_timer_.cancel();
}

void LivenessDriver::configure(const config::Liveness& c) {
  const bool changed = !(c == config_);
  config_ = c;
  if (!changed) return;
  if (!config_.enabled) {
    ping_timer_.cancel();
    deadline_timer_.cancel();
    policy::resetLiveness(state_);
    return;
  }
  if (session_ && session_->open()) schedulePing(milliseconds(0));
}

void LivenessDriver::attach(std::shared_ptr<BotSession> session) {
  detach();
  session_ = std::move(session);
  if (config_.enabled && session_ && session_->open()) schedulePing(milliseconds(0));
}

void LivenessDriver::detach() {
  session_.reset();
  ++seq_;
  outstanding_ = false;
  missed_ = false;
  ping_timer_.cancel();
  deadline_timer_.cancel();
  // A new session (or process) is judged afresh; a hung bot that went away is no longer hung.
  policy::resetLiveness(state_);
}

void LivenessDriver::onLag(double lag_ms) {
  if (!config_.enabled) return;
  report(policy::onLag(state_, config_, lag_ms, now_()));
}

void LivenessDriver::schedulePing(milliseconds delay) {
  ping_timer_.expires_after(delay);
  ping_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (ec || alive.expired()) return;
    ping();
  });
}

void LivenessDriver::ping() {
  if (!config_.enabled || !session_ || !session_->open()) return;
  schedulePing(std::chrono::duration_cast<milliseconds>(config_.every));
  const std::uint64_t seq = ++seq_;
  outstanding_ = true;
  missed_ = false;
  const auto sent = now_();
  // The session waits long enough for a late pong to still count as an answer ("a bot that
  // answers again leaves hung"); the miss is this driver's deadline, not the session's.
  const auto wait = std::min<milliseconds>(
      std::chrono::duration_cast<milliseconds>(config_.every * config_.misses), milliseconds(600000));
  session_->request(proto::Ping{}, wait,
                    [this, alive = std::weak_ptr<bool>(alive_), seq, sent](
                        Result<proto::Message> r) {
                      if (alive.expired() || !r) return;  // timeout/closed: misses count it
                      if (!std::holds_alternative<proto::Pong>(r.value())) return;
                      const double rtt =
                          std::chrono::duration<double, std::milli>(now_() - sent).count();
                      const bool late = seq != seq_ || missed_;
                      if (seq == seq_) {
                        outstanding_ = false;
                        deadline_timer_.cancel();
                      }
                      if (hooks_.on_pong) hooks_.on_pong(rtt);
                      report(policy::onPong(state_, config_, rtt, late));
                    });
  deadline_timer_.expires_after(config_.deadline);
  deadline_timer_.async_wait(
      [this, alive = std::weak_ptr<bool>(alive_), seq](boost::system::error_code ec) {
        if (ec || alive.expired() || seq != seq_ || !outstanding_) return;
        missed_ = true;
        auto v = policy::onPingMissed(state_, config_);
        if (hooks_.on_miss) hooks_.on_miss(v);
        report(v);
      });
}

void LivenessDriver::report(const policy::LivenessVerdict& v) {
  if (v.change != policy::LivenessChange::kNone && hooks_.on_change) hooks_.on_change(v);
}

}  // namespace memvisor::daemon
