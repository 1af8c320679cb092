// SupervisedBot and its bot session: which connection speaks for the bot, binding and
// unbinding it, and what arrives over it (stats, liveness verdicts from the pings, events).
#include <unistd.h>

#include <boost/asio/post.hpp>

#include "memvisor/daemon/peer_auth.hpp"
#include "memvisor/daemon/supervised_bot.hpp"
#include "memvisor/policy/heap_watch.hpp"

namespace memvisor::daemon {

namespace asio = boost::asio;

// ---- sessions ----------------------------------------------------------------------------

bool SupervisedBot::claims(const PeerCred& peer, const proto::Hello& hello) {
  if (process_.running()) return isSameOrDescendant(env_.paths, peer.pid, process_.pid());
  if (config_.mode != config::Mode::kAttach) return false;
  if (config_.attach.by == config::AttachBy::kConnect) {
    if (hello.name != config_.name) return false;
    const uid_t allowed = config_.attach.uid ? *config_.attach.uid : ::geteuid();
    if (peer.uid != allowed) return false;
    return process_.adopt(peer.pid, "connected to the bot socket").ok();
  }
  if (auto pid = discover()) {
    if (process_.adopt(*pid, "found at connection").ok()) {
      return isSameOrDescendant(env_.paths, peer.pid, process_.pid());
    }
  }
  return false;
}

Result<void> SupervisedBot::bind(const std::shared_ptr<BotSession>& session) {
  if (session_ && session_ != session && session_->open()) {
    // The old peer learns why it is cut off (it may be a stale half of its own reconnect).
    session_->closeWithError(proto::errc::kReplaced,
                             "replaced by a new connection for bot \"" + config_.name +
                                 "\" from pid " + std::to_string(session->peer().pid));
  }
  session_ = session;
  if (series_) env_.metrics->set(*series_, Series::kConnected, 1);
  liveness_.attach(session);
  std::string caps;
  for (const auto& c : session->hello().capabilities) caps += (caps.empty() ? "" : ",") + c;
  journal("session", proto::Level::kInfo,
          "bot connected from pid " + std::to_string(session->peer().pid),
          {{"peer_pid", std::to_string(session->peer().pid)},
           {"peer_uid", std::to_string(session->peer().uid)},
           {"capabilities", caps}});
  if (awaiting_) {
    // After this returns the session sends its welcome; the command must follow it.
    connect_timer_.cancel();
    asio::post(env_.io, [this, alive = std::weak_ptr<bool>(alive_), gen = generation_] {
      if (alive.expired() || !awaiting_ || gen != generation_) return;
      auto waiting = std::move(*awaiting_);
      awaiting_.reset();
      execute(waiting);
    });
  }
  return okResult();
}

void SupervisedBot::onSessionClosed(const std::shared_ptr<BotSession>& session,
                                    const std::string& reason) {
  if (session_ != session) return;
  session_.reset();
  if (series_) env_.metrics->set(*series_, Series::kConnected, 0);
  const bool was_hung = liveness_.state().hung();
  liveness_.detach();
  if (figure_series_) {
    figure_series_->forgetPing(config_.name);
    if (was_hung) figure_series_->hung(config_.name, false);
  }
  journal("session", proto::Level::kInfo, "bot disconnected: " + reason);
}

void SupervisedBot::onStats(const proto::Stats& stats) {
  // V8's heap is a limit of its own (protocol 1.1 heap_limit_bytes): alert as the seed does.
  if (auto n = policy::watchHeap(heap_watch_, stats.mem.heap_used_bytes, stats.mem.heap_limit_bytes)) {
    journalNotes({*n});
  }
  figures_.onStats(stats);
  if (stats.event_loop_lag_ms) liveness_.onLag(*stats.event_loop_lag_ms);
}

void SupervisedBot::onLivenessChange(const policy::LivenessVerdict& v) {
  const bool hung = v.change == policy::LivenessChange::kHung;
  if (figure_series_) figure_series_->hung(config_.name, hung);
  auto fields = v.fields;
  fields["state"] = hung ? "hung" : "ok";
  fields["pid"] = std::to_string(process_.pid());
  if (!hung) {
    journal("liveness", proto::Level::kInfo, "bot answers again, no longer hung: " + v.reason,
            fields);
    return;
  }
  const auto& lc = config_.liveness;
  const bool restart = lc.on_hung == config::OnHung::kRestart && process_.canRestart();
  fields["on_hung"] = restart ? "restart" : "journal";
  journal("liveness", proto::Level::kError,
          "bot hung: " + v.reason +
              (restart ? "; restarting it"
                       : lc.on_hung == config::OnHung::kRestart
                             ? "; memvisord cannot restart this bot (journal only)"
                             : "; journal only (liveness.on_hung: journal)"),
          fields);
  if (!restart || !process_.running()) return;
  const std::string reason = "hung: " + v.reason;
  last_action_ = proto::LastAction{"restart", true, 0, env_.wall_ms(), reason};
  ++actions_;
  if (env_.metrics) env_.metrics->action(config_.name, "restart", "ok", 0);
  countersChanged();
  // The normal graceful path: a hung bot will not answer `shutdown`, so its deadline passes
  // and the stop signal, then SIGKILL after stop_timeout, end it.
  if (auto r = process_.restart(reason, {}, BotProcess::StopMode::kCooperative); !r) {
    journal("restart", proto::Level::kWarn, "restart of the hung bot failed: " + r.error().message,
            {{"error", r.error().code}});
  }
}

void SupervisedBot::onEvent(const proto::Event& event) {
  journal("bot_event", event.level, event.message,
          std::map<std::string, std::string>(event.fields.begin(), event.fields.end()));
}

}  // namespace memvisor::daemon
