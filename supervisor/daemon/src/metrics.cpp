// memvisord's per-bot series: lifecycle, figures, actions, thresholds, detection.
#include "memvisor/daemon/metrics.hpp"

#include <map>

namespace memvisor::daemon {

Metrics::Metrics() : table_(std::make_shared<SeriesTable>()), figures_(*table_) {}

Metrics::Bot& Metrics::bot(const std::string& name) {
  Bot& b = table_->row(name);
  if (table_->value(b, Series::kUp)) return b;  // made before
  for (Series s : {Series::kLimit, Series::kUp, Series::kConnected, Series::kFatal}) {
    table_->set(b, s, 0);
  }
  table_->add(b, Series::kRestarts, 0);
  table_->add(b, Series::kOomKills, 0);
  // The cooperative actions and restart start at 0 with result "ok"; other results appear
  // when they first happen (their set is open: the bot's error codes).
  for (const char* action : {"trim", "sweep", "compact", "restart"}) {
    table_->addOpen(b, OpenSeries::kActions, std::string(action) + ":ok", 0);
  }
  for (const char* action : {"trim", "sweep", "compact"}) {
    table_->addOpen(b, OpenSeries::kFreed, action, 0);
  }
  return b;
}

void Metrics::removeBot(const std::string& name) { table_->remove(name); }

void Metrics::thresholds(const std::string& bot_name,
                         const std::vector<std::pair<std::string, double>>& at_by_action) {
  Bot& b = bot(bot_name);
  std::map<std::string, double> lowest;
  for (const auto& [action, at] : at_by_action) {
    auto [it, fresh] = lowest.emplace(action, at);
    if (!fresh && at < it->second) it->second = at;
  }
  table_->clearOpen(b, OpenSeries::kThreshold);
  for (const auto& [action, at] : lowest) table_->setOpen(b, OpenSeries::kThreshold, action, at);
}

void Metrics::figure(const std::string& bot_name, Figure f, std::optional<double> value) {
  figure(bot(bot_name), f, value);
}

void Metrics::figure(Bot& b, Figure f, std::optional<double> value) {
  Series s = Series::kRss;
  switch (f) {
    case Figure::kRss: s = Series::kRss; break;
    case Figure::kPss: s = Series::kPss; break;
    case Figure::kWorkingSet: s = Series::kWorkingSet; break;
    case Figure::kCgroup: s = Series::kCgroup; break;
  }
  if (value) {
    table_->set(b, s, *value);
  } else {
    table_->drop(b, s);
  }
}

void Metrics::detection(const std::string& bot_name, const std::string& path,
                        double bound_seconds) {
  table_->setDetection(bot(bot_name), path, bound_seconds);
}

void Metrics::action(const std::string& bot_name, const std::string& action,
                     const std::string& result, std::int64_t freed_bytes) {
  Bot& b = bot(bot_name);
  table_->addOpen(b, OpenSeries::kActions, action + ":" + result, 1);
  if (result == "ok" && freed_bytes > 0) {
    table_->addOpen(b, OpenSeries::kFreed, action, static_cast<double>(freed_bytes));
  }
}

void Metrics::saveActions(const std::string& bot_name, BotCounters& out) const {
  const Bot* b = table_->find(bot_name);
  if (!b) return;
  for (const auto& [key, v] : table_->open(*b, OpenSeries::kActions)) out.actions_by[key] = v;
  for (const auto& [action, v] : table_->open(*b, OpenSeries::kFreed)) out.freed_by[action] = v;
}

void Metrics::restoreActions(const std::string& bot_name, const BotCounters& saved) {
  Bot& b = bot(bot_name);
  for (const auto& [key, value] : saved.actions_by) {
    if (key.find(':') == std::string::npos || value <= 0) continue;
    table_->setOpen(b, OpenSeries::kActions, key, value);
  }
  for (const auto& [action, value] : saved.freed_by) {
    if (value <= 0) continue;
    table_->setOpen(b, OpenSeries::kFreed, action, value);
  }
}

}  // namespace memvisor::daemon
