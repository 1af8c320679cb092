// The Prometheus families of memvisord.
#include "memvisor/daemon/metrics.hpp"

namespace memvisor::daemon {

namespace pm = prometheus;

Metrics::Metrics()
    : registry_(std::make_shared<pm::Registry>()),
      memory_(pm::BuildGauge()
                  .Name("memvisor_bot_memory_bytes")
                  .Help("A supervised bot's memory by figure: rss, pss, working_set, cgroup")
                  .Register(*registry_)),
      limit_(pm::BuildGauge()
                 .Name("memvisor_bot_limit_bytes")
                 .Help("The memory limit memvisord enforces for the bot")
                 .Register(*registry_)),
      threshold_(pm::BuildGauge()
                     .Name("memvisor_bot_threshold_bytes")
                     .Help("Where a threshold's action starts, by action (trim, sweep, compact, restart, alert)")
                     .Register(*registry_)),
      up_(pm::BuildGauge()
              .Name("memvisor_bot_up")
              .Help("1 while the bot's process runs")
              .Register(*registry_)),
      connected_(pm::BuildGauge()
                     .Name("memvisor_bot_connected")
                     .Help("1 while the bot is connected to the bot socket")
                     .Register(*registry_)),
      fatal_(pm::BuildGauge()
                 .Name("memvisor_bot_fatal")
                 .Help("1 while the bot is FATAL: it crash-looped and memvisord stopped "
                       "restarting it (memvisorctl start brings it back)")
                 .Register(*registry_)),
      restarts_(pm::BuildCounter()
                    .Name("memvisor_bot_restarts_total")
                    .Help("Restarts of the bot (crashes and memory restarts)")
                    .Register(*registry_)),
      oom_kills_(pm::BuildCounter()
                     .Name("memvisor_bot_oom_kills_total")
                     .Help("Kernel OOM kills seen in the bot's cgroup")
                     .Register(*registry_)),
      actions_(pm::BuildCounter()
                   .Name("memvisor_actions_total")
                   .Help("Actions taken on a bot, by action and result")
                   .Register(*registry_)),
      freed_(pm::BuildCounter()
                 .Name("memvisor_freed_bytes_total")
                 .Help("Bytes the bot reported freed by successful actions")
                 .Register(*registry_)),
      detection_(pm::BuildGauge()
                     .Name("memvisor_bot_detection_bound_seconds")
                     .Help("Longest delay between a crossing and the sample that sees it, at "
                           "growth up to poll.max_growth, by detection path")
                     .Register(*registry_)),
      figures_(std::make_unique<FigureMetrics>(*registry_)) {}

Metrics::BotSeries& Metrics::bot(const std::string& name) {
  auto it = bots_.find(name);
  if (it != bots_.end()) return it->second;
  BotSeries s;
  s.limit = &limit_.Add({{"bot", name}});
  s.up = &up_.Add({{"bot", name}});
  s.connected = &connected_.Add({{"bot", name}});
  s.fatal = &fatal_.Add({{"bot", name}});
  s.restarts = &restarts_.Add({{"bot", name}});
  s.oom_kills = &oom_kills_.Add({{"bot", name}});
  auto& series = action_series_[name];
  // The cooperative actions and restart start at 0 with result "ok"; other results appear
  // when they first happen (their set is open: the bot's error codes).
  for (const char* action : {"trim", "sweep", "compact", "restart"}) {
    series.emplace(std::string(action) + ":ok",
                   &actions_.Add({{"bot", name}, {"action", action}, {"result", "ok"}}));
  }
  for (const char* action : {"trim", "sweep", "compact"}) {
    series.emplace(std::string("freed:") + action,
                   &freed_.Add({{"bot", name}, {"action", action}}));
  }
  return bots_.emplace(name, s).first->second;
}

void Metrics::thresholds(const std::string& bot_name,
                         const std::vector<std::pair<std::string, double>>& at_by_action) {
  auto& series = threshold_series_[bot_name];
  for (auto* g : series) threshold_.Remove(g);
  series.clear();
  std::map<std::string, double> lowest;
  for (const auto& [action, at] : at_by_action) {
    auto [it, fresh] = lowest.emplace(action, at);
    if (!fresh && at < it->second) it->second = at;
  }
  for (const auto& [action, at] : lowest) {
    auto* g = &threshold_.Add({{"bot", bot_name}, {"action", action}});
    g->Set(at);
    series.push_back(g);
  }
}

void Metrics::figure(const std::string& bot_name, Figure f, std::optional<double> value) {
  BotSeries& s = bot(bot_name);
  prometheus::Gauge** slot = nullptr;
  const char* label = "";
  switch (f) {
    case Figure::kRss: slot = &s.rss; label = "rss"; break;
    case Figure::kPss: slot = &s.pss; label = "pss"; break;
    case Figure::kWorkingSet: slot = &s.working_set; label = "working_set"; break;
    case Figure::kCgroup: slot = &s.cgroup; label = "cgroup"; break;
  }
  if (!value) {
    if (*slot) memory_.Remove(*slot);
    *slot = nullptr;
    return;
  }
  if (!*slot) *slot = &memory_.Add({{"bot", bot_name}, {"figure", label}});
  (*slot)->Set(*value);
}

void Metrics::removeBot(const std::string& name) {
  figures_->removeBot(name);
  auto it = bots_.find(name);
  if (it == bots_.end()) return;
  const BotSeries& s = it->second;
  for (auto* g : {s.rss, s.pss, s.working_set, s.cgroup}) {
    if (g) memory_.Remove(g);
  }
  limit_.Remove(s.limit);
  if (auto t = threshold_series_.find(name); t != threshold_series_.end()) {
    for (auto* g : t->second) threshold_.Remove(g);
    threshold_series_.erase(t);
  }
  up_.Remove(s.up);
  connected_.Remove(s.connected);
  fatal_.Remove(s.fatal);
  restarts_.Remove(s.restarts);
  oom_kills_.Remove(s.oom_kills);
  if (s.detection) detection_.Remove(s.detection);
  bots_.erase(it);
  auto a = action_series_.find(name);
  if (a != action_series_.end()) {
    for (auto& [key, c] : a->second) {
      if (key.rfind("freed:", 0) == 0) {
        freed_.Remove(c);
      } else {
        actions_.Remove(c);
      }
    }
    action_series_.erase(a);
  }
}

void Metrics::detection(const std::string& bot, const std::string& path, double bound_seconds) {
  BotSeries& s = this->bot(bot);
  if (s.detection && s.detection_path != path) {
    detection_.Remove(s.detection);
    s.detection = nullptr;
  }
  if (!s.detection) {
    s.detection = &detection_.Add({{"bot", bot}, {"path", path}});
    s.detection_path = path;
  }
  s.detection->Set(bound_seconds);
}

void Metrics::action(const std::string& bot, const std::string& action, const std::string& result,
                     std::int64_t freed_bytes) {
  auto& series = action_series_[bot];
  const std::string key = action + ":" + result;
  auto it = series.find(key);
  if (it == series.end()) {
    it = series.emplace(key, &actions_.Add({{"bot", bot}, {"action", action}, {"result", result}}))
             .first;
  }
  it->second->Increment();
  if (result == "ok" && freed_bytes > 0) {
    const std::string fkey = "freed:" + action;
    auto f = series.find(fkey);
    if (f == series.end()) {
      f = series.emplace(fkey, &freed_.Add({{"bot", bot}, {"action", action}})).first;
    }
    f->second->Increment(static_cast<double>(freed_bytes));
  }
}

void Metrics::saveActions(const std::string& bot, BotCounters& out) const {
  auto it = action_series_.find(bot);
  if (it == action_series_.end()) return;
  for (const auto& [key, c] : it->second) {
    if (key.rfind("freed:", 0) == 0) {
      out.freed_by[key.substr(6)] = c->Value();
    } else {
      out.actions_by[key] = c->Value();
    }
  }
}

void Metrics::restoreActions(const std::string& bot_name, const BotCounters& saved) {
  bot(bot_name);
  auto& series = action_series_[bot_name];
  for (const auto& [key, value] : saved.actions_by) {
    const auto colon = key.find(':');
    if (colon == std::string::npos || value <= 0) continue;
    auto it = series.find(key);
    if (it == series.end()) {
      it = series
               .emplace(key, &actions_.Add({{"bot", bot_name},
                                            {"action", key.substr(0, colon)},
                                            {"result", key.substr(colon + 1)}}))
               .first;
    }
    it->second->Increment(value - it->second->Value());
  }
  for (const auto& [action, value] : saved.freed_by) {
    if (value <= 0) continue;
    const std::string fkey = "freed:" + action;
    auto it = series.find(fkey);
    if (it == series.end()) {
      it = series.emplace(fkey, &freed_.Add({{"bot", bot_name}, {"action", action}})).first;
    }
    it->second->Increment(value - it->second->Value());
  }
}

}  // namespace memvisor::daemon
