// Names of config enums as the YAML and the journal write them.
#include <string_view>

#include "memvisor/config/config.hpp"

namespace memvisor::config {

const char* toString(ActionKind a) { return memvisor::actionName(a); }

std::optional<ActionKind> parseActionKind(std::string_view s) { return memvisor::findAction(s); }

const char* toString(Metric m) {
  switch (m) {
    case Metric::kRss: return "rss";
    case Metric::kPss: return "pss";
    case Metric::kWorkingSet: return "working_set";
    case Metric::kCgroup: return "cgroup";
  }
  return "?";
}

std::optional<Metric> parseMetric(std::string_view s) {
  for (auto m : {Metric::kRss, Metric::kPss, Metric::kWorkingSet, Metric::kCgroup}) {
    if (s == toString(m)) return m;
  }
  return std::nullopt;
}

const char* toString(AttachBy a) {
  switch (a) {
    case AttachBy::kPidfile: return "pidfile";
    case AttachBy::kCmdline: return "cmdline";
    case AttachBy::kConnect: return "connect";
  }
  return "?";
}

const char* toString(OnHung o) { return o == OnHung::kJournal ? "journal" : "restart"; }

std::array<Duration, kActionKinds> Deadlines::defaults() {
  std::array<Duration, kActionKinds> out{};
  for (const auto& i : memvisor::kActions) out[memvisor::actionIndex(i.kind)] = i.default_deadline;
  return out;
}

const BotConfig* Config::findBot(std::string_view name) const {
  for (const auto& b : bots) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

ControlSocketAccess controlSocketAccess(const DaemonConfig& d) {
  ControlSocketAccess a;
  if (d.allowed_uids.empty() && d.allowed_gids.size() == 1) {
    a.mode = 0660;
    a.gid = d.allowed_gids.front();
  } else if (!d.allowed_uids.empty() || !d.allowed_gids.empty()) {
    a.mode = 0666;
  }
  if (d.control_mode) a.mode = *d.control_mode;
  return a;
}

}  // namespace memvisor::config
