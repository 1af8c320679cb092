// FakeBackend: a scripted ControlBackend for the control endpoint and memvisorctl tests.
// Three bots (amayo: running and connected; tester: running, no bot session; idle:
// stopped), deterministic figures, replies after a short timer (as a real action waits
// for the bot), and journal entries for what it does, like memvisord's.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "memvisor/control/backend.hpp"
#include "memvisor/journal/journal.hpp"

namespace memvisor::control::testing {

inline std::int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class FakeBackend : public ControlBackend {
 public:
  static constexpr std::int64_t kMiB = 1024 * 1024;
  static constexpr std::int64_t kTrimFreed = 24221696;   // 23.1 MiB
  static constexpr std::int64_t kSweepFreed = 12897485;  // 12.3 MiB
  static constexpr std::int64_t kCompactFreed = 41943040;

  FakeBackend(boost::asio::io_context& io, journal::Journal& journal, std::string config_path = "")
      : io_(io), journal_(journal), config_path_(std::move(config_path)) {
    proto::BotStatus a;
    a.name = "amayo";
    a.state = "RUNNING";
    a.memory_state = "ok";
    a.pid = 4242;
    a.uptime_ms = 7380000;
    a.connected = true;
    a.metric = "rss";
    a.limit_bytes = 384 * kMiB;
    a.limit_source = "config";
    a.rss_bytes = 212 * kMiB;
    a.pss_bytes = 205 * kMiB;
    a.working_set_bytes = 198 * kMiB;
    a.cgroup_usage_bytes = 230 * kMiB;
    a.metric_bytes = a.rss_bytes;
    a.thresholds_bytes = {269 * kMiB, 307 * kMiB, 345 * kMiB};
    proto::BotStatus t = a;
    t.name = "tester";
    t.memory_state = "elevated";
    t.pid = 4343;
    t.connected = false;
    t.limit_bytes = 512 * kMiB;
    t.rss_bytes = t.metric_bytes = 380 * kMiB;
    t.last_action = proto::LastAction{"sweep", true, 5 * kMiB, wallMs() - 180000, "threshold 70%"};
    t.restarts = 2;
    t.oom_kills = 1;
    proto::BotStatus i;
    i.name = "idle";
    i.state = "STOPPED";
    i.memory_state = "unknown";
    i.metric = "rss";
    i.limit_bytes = 384 * kMiB;
    i.limit_source = "config";
    bots_ = {a, t, i};
    config_limits_ = {a.limit_bytes, t.limit_bytes, i.limit_bytes};
  }

  std::int64_t reply_delay_ms = 20;
  std::atomic<int> handled{0};  // read by the test thread while the io thread counts

  // A large host: `n` more running bots shard-0001..., for answers larger than a frame.
  void addBots(int n) {
    for (int i = 1; i <= n; ++i) {
      proto::BotStatus b = bots_.front();
      char name[32];
      std::snprintf(name, sizeof name, "shard-%04d", i);
      b.name = name;
      b.pid = 10000 + i;
      bots_.push_back(b);
      config_limits_.push_back(b.limit_bytes);
    }
  }
  std::size_t botCount() const { return bots_.size(); }

  void handle(const proto::ControlRequest& request, Reply reply) override {
    ++handled;
    proto::Message result = answer(proto::toMessage(request));
    if (reply_delay_ms <= 0) {
      reply(std::move(result));
      return;
    }
    auto timer =
        std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(reply_delay_ms));
    timer->async_wait([timer, reply = std::move(reply), result = std::move(result)](
                          boost::system::error_code) mutable { reply(std::move(result)); });
  }

  Result<void> checkBot(const std::string& bot) const override {
    for (const auto& b : bots_) {
      if (b.name == bot) return okResult();
    }
    return Error{proto::errc::kUnknownBot, "no bot named \"" + bot + "\""};
  }

 private:
  proto::BotStatus* find(const std::string& name) {
    for (auto& b : bots_) {
      if (b.name == name) return &b;
    }
    return nullptr;
  }

  void note(const std::string& bot, const std::string& kind, proto::Level level,
            const std::string& msg, std::map<std::string, std::string> fields) {
    journal_.record(proto::JournalEntry{wallMs(), bot, kind, level, msg, std::move(fields)});
  }

  std::vector<proto::BotStatus*> targets(const std::string& bot) {
    std::vector<proto::BotStatus*> out;
    if (bot == "all") {
      for (auto& b : bots_) out.push_back(&b);
    } else if (auto* b = find(bot)) {
      out.push_back(b);
    }
    return out;
  }

  proto::Message answer(const proto::Message& request) {
    if (const auto* s = std::get_if<proto::StatusRequest>(&request)) {
      proto::StatusResult r{s->id, {}};
      if (s->bots.empty()) r.bots = bots_;
      for (const auto& name : s->bots) {
        const auto* b = find(name);
        if (b == nullptr)
          return proto::ErrorMsg{s->id, proto::errc::kUnknownBot, "no bot named \"" + name + "\""};
        r.bots.push_back(*b);
      }
      return r;
    }
    if (const auto* run = std::get_if<proto::RunRequest>(&request)) {
      auto ts = targets(run->bot);
      if (ts.empty())
        return proto::ErrorMsg{run->id, proto::errc::kUnknownBot,
                               "no bot named \"" + run->bot + "\""};
      proto::RunResult r{run->id, {}};
      for (auto* b : ts) {
        proto::BotOutcome o{b->name, true, "", "", 0, 0};
        if (b->state != "RUNNING") {
          o.ok = false;
          o.code = proto::errc::kNotConnected;
          o.message = "not running";
        } else if (!b->connected) {
          o.ok = false;
          o.code = proto::errc::kNotConnected;
          o.message = "the bot has no session on the bot socket";
        } else {
          o.freed_bytes = run->action == proto::Action::kTrim    ? kTrimFreed
                          : run->action == proto::Action::kSweep ? kSweepFreed
                                                                 : kCompactFreed;
          o.duration_ms = 4.2;
          b->last_action = proto::LastAction{proto::toString(run->action), true, o.freed_bytes,
                                             wallMs(), "memvisorctl"};
          note(b->name, "action", proto::Level::kInfo,
               std::string(proto::toString(run->action)) + " freed " +
                   std::to_string(o.freed_bytes) + " bytes",
               {{"action", proto::toString(run->action)},
                {"freed_bytes", std::to_string(o.freed_bytes)},
                {"reason", "memvisorctl"}});
        }
        r.results.push_back(o);
      }
      return r;
    }
    if (const auto* lc = std::get_if<proto::LifecycleRequest>(&request)) {
      auto ts = targets(lc->bot);
      if (ts.empty())
        return proto::ErrorMsg{lc->id, proto::errc::kUnknownBot,
                               "no bot named \"" + lc->bot + "\""};
      proto::LifecycleResult r{lc->id, {}};
      for (auto* b : ts) {
        proto::BotOutcome o{b->name, true, "", "", 0, 0};
        const bool running = b->state == "RUNNING";
        switch (lc->op) {
          case proto::LifecycleOp::kStart:
            if (running) {
              o.ok = false;
              o.code = proto::errc::kActionFailed;
              o.message = "already started";
            } else {
              b->state = "RUNNING";
              b->pid = next_pid_++;
              b->uptime_ms = 0;
            }
            break;
          case proto::LifecycleOp::kStop:
            if (!running) {
              o.ok = false;
              o.code = proto::errc::kActionFailed;
              o.message = "not running";
            } else {
              b->state = "STOPPED";
              b->pid = 0;
            }
            break;
          case proto::LifecycleOp::kRestart:
            b->state = "RUNNING";
            b->pid = next_pid_++;
            b->uptime_ms = 0;
            ++b->restarts;
            break;
        }
        if (o.ok) {
          note(b->name, proto::toString(lc->op), proto::Level::kInfo,
               std::string(proto::toString(lc->op)) + " requested by memvisorctl",
               {{"pid", std::to_string(b->pid)}});
        }
        r.results.push_back(o);
      }
      return r;
    }
    if (const auto* lim = std::get_if<proto::LimitRequest>(&request)) {
      auto* b = find(lim->bot);
      if (b == nullptr)
        return proto::ErrorMsg{lim->id, proto::errc::kUnknownBot,
                               "no bot named \"" + lim->bot + "\""};
      if (lim->limit_bytes) {
        b->limit_bytes = *lim->limit_bytes;
        b->limit_source = "runtime";
        note(b->name, "config", proto::Level::kWarn, "limit changed at run time",
             {{"limit_bytes", std::to_string(b->limit_bytes)}});
      }
      return proto::LimitResult{lim->id, b->name, b->limit_bytes, b->limit_source};
    }
    if (const auto* rl = std::get_if<proto::ReloadRequest>(&request)) {
      std::ifstream in(config_path_);
      std::stringstream text;
      text << in.rdbuf();
      if (config_path_.empty() || text.str().find("invalid") != std::string::npos) {
        return proto::ReloadResult{
            rl->id,
            false,
            {"memvisor.yaml:3:12: bots[0].limit: must be a size such as 384MiB, got \"lots\""},
            {}};
      }
      std::vector<std::string> changes;
      for (std::size_t i = 0; i < bots_.size(); ++i) {
        if (bots_[i].limit_source == "runtime") {
          bots_[i].limit_bytes = config_limits_[i];
          bots_[i].limit_source = "config";
          changes.push_back(bots_[i].name + ": limit back to the file's value");
        }
      }
      note("", "config", proto::Level::kInfo, "config reloaded", {});
      return proto::ReloadResult{rl->id, true, {}, changes};
    }
    return proto::ErrorMsg{std::nullopt, proto::errc::kInternal, "fake backend: unexpected"};
  }

  boost::asio::io_context& io_;
  journal::Journal& journal_;
  std::string config_path_;
  std::vector<proto::BotStatus> bots_;
  std::vector<std::int64_t> config_limits_;
  std::int64_t next_pid_ = 5000;
};

}  // namespace memvisor::control::testing
