// SupervisedBot's action runner: the policy's intents and the operator's actions go to the
// bot through one path (sendToBot: at most one outstanding, its deadline, the reply read
// once) and are recorded through one (recordAction: journal line, last action, metrics,
// counters). Policy actions also wait for a bot that is connecting, are measured by
// memvisord's own samples until the figure settles, and feed their result back to the
// policy; a restart re-checks the figure first.
#include <boost/asio/post.hpp>
#include <charconv>
#include <sstream>

#include "memvisor/config/units.hpp"
#include "memvisor/daemon/policy_wire.hpp"
#include "memvisor/daemon/supervised_bot.hpp"
#include "memvisor/policy/settle.hpp"

namespace memvisor::daemon {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

std::string ms(double v) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(1);
  os << v;
  return os.str();
}

policy::Outcome outcomeOf(const Error& e) {
  if (e.code == proto::errc::kTimeout) return policy::Outcome::kTimeout;
  if (e.code == proto::errc::kNotConnected) return policy::Outcome::kNotConnected;
  return policy::Outcome::kFailed;
}

// A byte count from journal fields, formatted ("4.0 MiB"); "?" when absent.
std::string bytesField(const std::map<std::string, std::string>& f, const std::string& key) {
  auto it = f.find(key);
  if (it == f.end()) return "?";
  std::int64_t v = 0;
  std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  return config::formatBytes(v);
}

}  // namespace

// ---- acting ------------------------------------------------------------------------------

// State of one settle: the action, the bot's reply and the samples since the action was sent.
struct PendingSettle {
  policy::Intent intent;
  policy::ActionResult result;
  double duration_ms = 0;
  proto::ActionResult reply;
  policy::Settle settle;
  std::chrono::steady_clock::time_point start;
  std::uint64_t gen = 0;
  bool replied = false;
  bool cancelled = false;  // no reply, or a failed one: finished without a settle
  bool finished = false;   // settled and finished on the sample taken at the reply
};

void SupervisedBot::execute(const policy::Intent& intent) {
  if (intent.action == config::ActionKind::kAlert) {
    journal("alert", proto::Level::kWarn, intent.reason, intent.fields);
    return;
  }
  if (intent.action == config::ActionKind::kRestart) {
    restartFor(intent);
    return;
  }
  if (!memvisor::actionInfo(intent.action).to_bot) return;
  if (!connected()) {
    if (!process_.running()) {
      finishAction(intent, {intent.action, policy::Outcome::kNotConnected, 0, "bot not running"}, 0,
                   std::nullopt);
      return;
    }
    // A bot that is starting (or reconnecting) gets the command's deadline to connect
    // before the command counts as failed.
    awaiting_ = intent;
    const std::uint64_t gen = generation_;
    connect_timer_.expires_after(intent.deadline);
    connect_timer_.async_wait(
        [this, alive = std::weak_ptr<bool>(alive_), gen](boost::system::error_code ec) {
          if (ec || alive.expired() || !awaiting_) return;
          auto waiting = std::move(*awaiting_);
          awaiting_.reset();
          if (gen != generation_) return;
          finishAction(waiting,
                       {waiting.action, policy::Outcome::kNotConnected, 0,
                        "bot not connected to the bot socket within the " +
                            config::formatDuration(waiting.deadline) + " deadline"},
                       0, std::nullopt);
        });
    return;
  }
  if (running_action_) {
    deferred_ = intent;  // sent when the operator's action is answered
    return;
  }
  proto::ActionRequest req;
  req.action = intent.action;
  req.urgency = toProto(intent.urgency);
  req.target_bytes = intent.target_bytes;
  req.headroom_bytes = intent.headroom_bytes;
  const std::uint64_t gen = generation_;
  // memvisord's own "before", from a fresh sample (the last one may be a poll interval old);
  // from here on it samples the bot until the figure settles after the reply (startSettle).
  std::optional<config::Bytes> before = last_metric_;
  if (sampler_) {
    if (auto s = sampler_->sample(now())) before = metricOf(*s);
  }
  std::shared_ptr<PendingSettle> pending = before ? startSettle(intent, *before) : nullptr;
  sendToBot(req, intent.deadline, [this, intent, gen, pending](BotReply r, bool alive) {
    if (!alive) return;
    policy::ActionResult res{intent.action, r.outcome, r.freed_bytes, r.message};
    if (res.outcome == policy::Outcome::kFailed && r.reply && res.error.empty()) {
      res.error = "bot reported failure";
    }
    if (gen != generation_) {
      // The bot restarted meanwhile: the policy state is fresh; journal only.
      journal("action", proto::Level::kInfo,
              std::string(config::toString(intent.action)) +
                  " answered after the bot restarted: " + policy::toString(res.outcome));
      return;
    }
    if (pending && r.reply && res.outcome == policy::Outcome::kOk) {
      // What the bot says it freed: the exact heap figure when it has one (1.1), else its
      // RSS drop. The settle loop finishes the action.
      pending->result = res;
      pending->duration_ms = r.duration_ms;
      pending->reply = *r.reply;
      pending->replied = true;
      pending->settle.replied(
          std::max<std::int64_t>(0, r.reply->heap_freed_bytes.value_or(r.reply->freed_bytes)));
      // The sample that may end the window is taken now, when the bot has just measured its
      // own figure, not at the next step: in the discord.js long run V8 returned 40-45 MiB in
      // the up to 200 ms between the two, which the bot's figure could never include.
      settleSample(pending);
      return;
    }
    if (pending) pending->cancelled = true;
    finishAction(intent, res, r.duration_ms, r.reply);
  });
}

void SupervisedBot::sendToBot(proto::ActionRequest req, milliseconds deadline,
                              std::function<void(BotReply, bool alive)> done) {
  req.deadline_ms = std::max<std::int64_t>(1, deadline.count());
  running_action_ = proto::toString(req.action);
  const auto t0 = now();
  session_->request(
      req, deadline,
      [this, alive = std::weak_ptr<bool>(alive_), t0, done = std::move(done)](Result<proto::Message> r) {
        BotReply out;
        out.duration_ms = std::chrono::duration<double, std::milli>(now() - t0).count();
        if (!r) {
          out.outcome = outcomeOf(r.error());
          out.code = r.error().code;
          out.message = r.error().message;
        } else if (auto* ar = std::get_if<proto::ActionResult>(&r.value())) {
          out.reply = *ar;
          out.freed_bytes = ar->freed_bytes;
          if (!ar->ok) {
            out.outcome = policy::Outcome::kFailed;
            out.code = proto::errc::kActionFailed;
            out.message = ar->error;
          }
        } else {
          out.outcome = policy::Outcome::kFailed;
          out.code = proto::errc::kInternal;
          out.message = "unexpected reply " + proto::typeName(r.value());
        }
        const bool live = !alive.expired();
        if (live) actionDone();
        done(std::move(out), live);
      });
}

void SupervisedBot::recordAction(const std::string& action, const std::string& result, bool ok,
                                 config::Bytes freed, const std::string& reason,
                                 const std::string& message, std::map<std::string, std::string> fields) {
  journal("action", ok ? proto::Level::kInfo : proto::Level::kWarn, message, std::move(fields));
  last_action_ = proto::LastAction{action, ok, freed, env_.wall_ms(), reason};
  if (env_.metrics) env_.metrics->action(config_.name, action, result, freed);
  countersChanged();
}

std::shared_ptr<PendingSettle> SupervisedBot::startSettle(const policy::Intent& intent, config::Bytes before) {
  if (!sampler_) return nullptr;
  const auto now = this->now();
  auto p = std::make_shared<PendingSettle>(PendingSettle{intent, {}, 0, {}, policy::Settle(before, before, {}, now),
                                                         now, generation_, false, false});
  settleStep(p);
  return p;
}

void SupervisedBot::settleStep(std::shared_ptr<PendingSettle> p) {
  settle_timer_.expires_after(p->settle.rule().step);
  settle_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_), p](boost::system::error_code ec) {
    if (ec || alive.expired()) return;
    if (!settleSample(p)) settleStep(p);
  });
}

bool SupervisedBot::settleSample(const std::shared_ptr<PendingSettle>& p) {
  if (p->cancelled || p->finished || p->gen != generation_ || !sampler_ || !process_.running()) {
    return true;
  }
  const auto now = this->now();
  bool settled = true;
  if (auto s = sampler_->sample(now)) {
    if (auto m = metricOf(*s)) settled = p->settle.add(*m, now);
  }
  if (!p->replied || (!settled && !p->settle.done(now))) return false;
  p->finished = true;
  settle_timer_.cancel();  // before finishAction, which may start the next action's settle
  // memvisord's own figure decides escalation and goes to the journal and the metrics; the
  // bot's figures stay beside it.
  auto intent = p->intent;
  intent.fields["bot_freed"] = std::to_string(p->reply.freed_bytes);
  if (p->reply.heap_freed_bytes) intent.fields["heap_freed"] = std::to_string(*p->reply.heap_freed_bytes);
  if (p->reply.target_met) intent.fields["target_met"] = *p->reply.target_met ? "true" : "false";
  intent.fields["before"] = std::to_string(p->settle.before());
  intent.fields["after"] = std::to_string(p->settle.lowest());
  intent.fields["settle_ms"] = ms(std::chrono::duration<double, std::milli>(now - p->start).count() - p->duration_ms);
  intent.fields["settle_samples"] = std::to_string(p->settle.samples());
  auto result = p->result;
  result.freed_bytes = p->settle.freed();
  finishAction(intent, result, p->duration_ms, p->reply);
  return true;
}

void SupervisedBot::restartFor(const policy::Intent& intent) {
  // Re-check right before the drastic step: the figure may have fallen meanwhile.
  const config::Bytes threshold = intent.threshold_bytes;
  if (sampler_ && process_.running() && threshold > 0) {
    if (auto s = sampler_->sample(now())) {
      if (auto m = metricOf(*s); m && *m < threshold) {
        const config::Bytes before = last_metric_.value_or(*m);
        journal("restart", proto::Level::kInfo,
                "restart cancelled: " + std::string(config::toString(policy_.metric)) +
                    " fell to " + config::formatBytes(*m) + ", below " +
                    config::formatBytes(threshold),
                intent.fields);
        last_metric_ = m;
        finishAction(intent, {intent.action, policy::Outcome::kOk, before - *m, ""}, 0,
                     std::nullopt);
        return;
      }
    }
  }
  if (!process_.canRestart()) {
    finishAction(intent,
                 {intent.action, policy::Outcome::kUnsupported, 0,
                  "memvisord did not start this bot and has no restart_command for it"},
                 0, std::nullopt);
    return;
  }
  auto fields = intent.fields;
  fields["pid"] = std::to_string(process_.pid());
  fields["trigger"] = policy::toString(intent.trigger);
  fields["reason"] = intent.reason;
  // Above the hard ceiling the kernel limit is close: skip the protocol's shutdown (whose
  // deadline a fast leak would outrun) and go straight to the stop signal, then SIGKILL.
  const bool uncooperative = intent.trigger == policy::Trigger::kHardCeiling;
  fields["stop"] = uncooperative ? "signal" : "shutdown";
  journal("restart", proto::Level::kWarn,
          std::string(uncooperative ? "restart without waiting for the bot: "
                                    : "graceful restart: ") +
              intent.reason,
          fields);
  last_action_ = proto::LastAction{"restart", true, 0, env_.wall_ms(), intent.reason};
  auto r = process_.restart(intent.reason, {},
                            uncooperative ? BotProcess::StopMode::kSignal
                                          : BotProcess::StopMode::kCooperative);
  if (!r) {
    finishAction(intent, {intent.action, policy::Outcome::kFailed, 0, r.error().message}, 0,
                 std::nullopt);
  }
  // Success is reported to the policy by onBotStarted when the new incarnation runs.
}

void SupervisedBot::finishAction(const policy::Intent& intent, policy::ActionResult result,
                                 double duration_ms,
                                 const std::optional<proto::ActionResult>& reply) {
  const bool ok = result.outcome == policy::Outcome::kOk;
  auto fields = intent.fields;
  fields["pid"] = std::to_string(process_.pid());
  fields["action"] = config::toString(intent.action);
  fields["trigger"] = policy::toString(intent.trigger);
  fields["urgency"] = policy::toString(intent.urgency);
  fields["result"] = policy::toString(result.outcome);
  fields["freed"] = std::to_string(result.freed_bytes);
  fields["duration_ms"] = ms(duration_ms);
  fields["reason"] = intent.reason;
  if (reply && reply->late) fields["late"] = "true";
  if (!ok) fields["error"] = result.error;
  std::string message =
      std::string(config::toString(intent.action)) +
      (ok ? " freed " + config::formatBytes(result.freed_bytes) + " in " + ms(duration_ms) + " ms"
          : " " + std::string(policy::toString(result.outcome)) + ": " + result.error);
  if (ok) {
    if (auto it = intent.fields.find("after"); it != intent.fields.end()) {
      message += " (memvisord's samples; the bot measured " + bytesField(intent.fields, "bot_freed");
      if (intent.fields.count("heap_freed")) message += ", heap " + bytesField(intent.fields, "heap_freed");
      message += ")";
    }
    if (intent.target_bytes) {
      message += "; target " + config::formatBytes(*intent.target_bytes) +
                 (result.freed_bytes >= *intent.target_bytes ? " met" : " not met");
    }
  }
  ++actions_;
  recordAction(config::toString(intent.action), policy::toString(result.outcome), ok,
               result.freed_bytes, intent.reason, message, std::move(fields));
  journalNotes(policy::onActionResult(pstate_, result, policy_, now()));
  // No stale slow figure next to a fresh RSS: PSS, status and cgroup figures are re-read.
  if (sampler_) {
    sampler_->requestPss();
    sampler_->requestSlow();
  }
  // See the effect, and let an escalation proceed without waiting a whole interval.
  if (process_.running()) scheduleSample(milliseconds(0));
}

void SupervisedBot::runAction(proto::Action action, std::function<void(proto::BotOutcome)> done) {
  proto::BotOutcome out;
  out.bot = config_.name;
  if (!connected()) {
    out.ok = false;
    out.code = proto::errc::kNotConnected;
    out.message = process_.running() ? "bot is not connected to the bot socket"
                                     : std::string("bot is ") + toString(process_.state());
    done(out);
    return;
  }
  if (running_action_) {
    out.ok = false;
    out.code = proto::errc::kBusy;
    out.message = *running_action_ + " is already running on this bot";
    done(out);
    return;
  }
  proto::ActionRequest req;
  req.action = action;
  req.urgency = proto::Urgency::kNormal;
  if (last_metric_) req.headroom_bytes = policy::headroomBelowCeiling(policy_, *last_metric_);
  sendToBot(req, policy_.deadlines.forAction(action),
            [this, action, out, done = std::move(done)](BotReply r, bool alive) mutable {
              out.duration_ms = r.duration_ms;
              out.ok = r.outcome == policy::Outcome::kOk;
              out.freed_bytes = r.freed_bytes;
              out.code = r.code;
              out.message = r.message;
              if (alive) {
                const std::string name = proto::toString(action);
                recordAction(name, out.ok ? "ok" : out.code, out.ok, out.freed_bytes, "operator",
                             name + " (operator) " +
                                 (out.ok ? "freed " + config::formatBytes(out.freed_bytes)
                                         : out.code + ": " + out.message),
                             {{"action", name},
                              {"trigger", "operator"},
                              {"result", out.ok ? "ok" : out.code},
                              {"freed", std::to_string(out.freed_bytes)},
                              {"duration_ms", ms(out.duration_ms)}});
              }
              done(out);
            });
}

void SupervisedBot::actionDone() {
  running_action_.reset();
  if (!deferred_) return;
  // After the current callback has fed its result to the policy.
  asio::post(env_.io, [this, alive = std::weak_ptr<bool>(alive_), gen = generation_] {
    if (alive.expired() || !deferred_ || running_action_) return;
    auto intent = std::move(*deferred_);
    deferred_.reset();
    if (gen == generation_) execute(intent);
  });
}

}  // namespace memvisor::daemon
