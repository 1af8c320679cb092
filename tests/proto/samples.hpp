// Sample messages for the protocol tests: one with every field set and one minimal, for
// every message type.
#pragma once

#include <vector>

#include "memvisor/proto/messages.hpp"

namespace memvisor::proto::testing {

inline MemFigures fullFigures(std::int64_t base) {
  return MemFigures{base, base / 2, base / 2 + 4096, base / 16, base * 2};
}

inline BotStatus fullBotStatus() {
  BotStatus b;
  b.name = "amayo";
  b.state = "RUNNING";
  b.memory_state = "elevated";
  b.pid = 4242;
  b.uptime_ms = 3600000;
  b.connected = true;
  b.metric = "rss";
  b.limit_bytes = 384LL << 20;
  b.limit_source = "runtime";
  b.rss_bytes = 300LL << 20;
  b.pss_bytes = 290LL << 20;
  b.working_set_bytes = 280LL << 20;
  b.cgroup_usage_bytes = 310LL << 20;
  b.metric_bytes = 300LL << 20;
  b.last_action = LastAction{"sweep", true, 12345678, 1764097200000, "rss above 70%"};
  b.restarts = 2;
  b.oom_kills = 1;
  b.thresholds_bytes = {268435456, 322122547, 364904448};
  return b;
}

inline BotStatus minimalBotStatus() {
  BotStatus b;
  b.name = "nobot";
  b.state = "STOPPED";
  b.memory_state = "unknown";
  b.metric = "cgroup";
  b.limit_source = "config";
  return b;
}

// Every message type with every optional field set, including non-ASCII text.
inline std::vector<Message> fullMessages() {
  std::vector<Message> v;
  v.push_back(Hello{{1, 3}, Role::kBot, 4242, "amayo", {"trim", "sweep", "compact", "stats"}});
  v.push_back(Welcome{{1, 0}, 1, "amayo", {"journal"}, 2000});
  v.push_back(ErrorMsg{7, "busy", "amayo: a sweep is already running"});
  v.push_back(Ack{9, "backlog complete"});
  v.push_back(ActionRequest{1, Action::kTrim, Urgency::kLow, 1, 0, std::nullopt});
  v.push_back(ActionRequest{2, Action::kSweep, Urgency::kHigh, 600000, 60LL << 20, 0});
  v.push_back(ActionRequest{3, Action::kCompact, Urgency::kCritical, 2000, kMaxSafeInteger, kMaxSafeInteger});
  v.push_back(Ping{kMaxSafeInteger});
  v.push_back(Shutdown{11, 15000, "limit exceeded after compact"});
  ActionResult r;
  r.id = 2;
  r.action = Action::kSweep;
  r.ok = false;
  r.freed_bytes = -4096;
  r.duration_ms = 12.375;
  r.late = true;
  r.before = fullFigures(300LL << 20);
  r.after = fullFigures(250LL << 20);
  r.details = {CacheDetail{"messages", 1 << 20, 5000, 1000}, CacheDetail{"members", -12, {}, 7}};
  r.error = "sweeper threw: TypeError";
  r.heap_freed_bytes = -(1LL << 20);
  r.target_met = false;
  v.push_back(r);
  v.push_back(Pong{12, 987654});
  Stats s;
  s.mem = fullFigures(156LL << 20);
  s.event_loop_lag_ms = 1.24;
  s.caches = {{"messages", 2500}, {"members", 100}, {"threads", 0}};
  s.uptime_ms = 86400000;
  v.push_back(s);
  v.push_back(Event{Level::kWarn, "heap use above 80% — señal",
                    {{"heap_used", "412MB"}, {"limit", "512MB"}}});
  v.push_back(StatusRequest{13, {"amayo", "mimi"}});
  v.push_back(StatusResult{14, {fullBotStatus(), minimalBotStatus()}});
  v.push_back(RunRequest{15, "all", Action::kCompact});
  v.push_back(RunResult{16,
                        {BotOutcome{"amayo", true, "", "", 24221286, 4.5},
                         BotOutcome{"mimi", false, "not_connected", "no bot session", 0, 0}}});
  v.push_back(LifecycleRequest{17, "amayo", LifecycleOp::kStop});
  v.push_back(LifecycleResult{18, {BotOutcome{"amayo", true, "", "stopped", 0, 1500.25}}});
  v.push_back(LimitRequest{19, "amayo", 512LL << 20});
  v.push_back(LimitResult{20, "amayo", 512LL << 20, "runtime"});
  v.push_back(ReloadRequest{21});
  v.push_back(ReloadResult{22, false, {"memvisor.yaml:12:7: bots[1].limit: must be > 0"},
                           {"amayo: limit 384 MiB -> 512 MiB"}});
  v.push_back(Subscribe{23, "amayo", 3600000, true});
  v.push_back(JournalEntry{1764097200123, "amayo", "action", Level::kInfo, "trim freed 23.1 MiB",
                           {{"action", "trim"}, {"freed_bytes", "24221286"}}});
  return v;
}

// Every message type with only its required fields.
inline std::vector<Message> minimalMessages() {
  std::vector<Message> v;
  v.push_back(Hello{{1, 0}, Role::kControl, 0, "memvisorctl", {}});
  v.push_back(Welcome{});
  v.push_back(ErrorMsg{std::nullopt, "frame_too_large", ""});
  v.push_back(Ack{0, ""});
  v.push_back(ActionRequest{});
  v.push_back(Ping{});
  v.push_back(Shutdown{});
  v.push_back(ActionResult{});
  v.push_back(Pong{});
  v.push_back(Stats{});
  v.push_back(Event{Level::kDebug, "", {}});
  v.push_back(StatusRequest{});
  v.push_back(StatusResult{});
  v.push_back(RunRequest{0, "amayo", Action::kTrim});
  v.push_back(RunResult{});
  v.push_back(LifecycleRequest{0, "amayo", LifecycleOp::kStart});
  v.push_back(LifecycleResult{});
  v.push_back(LimitRequest{0, "amayo", std::nullopt});
  v.push_back(LimitResult{0, "amayo", 0, "config"});
  v.push_back(ReloadRequest{});
  v.push_back(ReloadResult{});
  v.push_back(Subscribe{});
  v.push_back(JournalEntry{0, "", "config", Level::kError, "", {}});
  return v;
}

}  // namespace memvisor::proto::testing
