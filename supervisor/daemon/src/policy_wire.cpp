// Policy types -> wire types (see policy_wire.hpp).
#include "memvisor/daemon/policy_wire.hpp"

namespace memvisor::daemon {

proto::Urgency toProto(policy::Urgency u) {
  switch (u) {
    case policy::Urgency::kLow: return proto::Urgency::kLow;
    case policy::Urgency::kNormal: return proto::Urgency::kNormal;
    case policy::Urgency::kHigh: return proto::Urgency::kHigh;
    case policy::Urgency::kCritical: return proto::Urgency::kCritical;
  }
  return proto::Urgency::kNormal;
}

proto::Level toProto(policy::Level l) {
  switch (l) {
    case policy::Level::kDebug: return proto::Level::kDebug;
    case policy::Level::kInfo: return proto::Level::kInfo;
    case policy::Level::kWarn: return proto::Level::kWarn;
    case policy::Level::kError: return proto::Level::kError;
  }
  return proto::Level::kInfo;
}

proto::JournalEntry toJournalEntry(const policy::Note& n, const std::string& bot, std::int64_t ts_ms) {
  proto::JournalEntry e;
  e.ts_ms = ts_ms;
  e.bot = bot;
  e.kind = n.kind;
  e.level = toProto(n.level);
  e.message = n.message;
  e.fields = n.fields;
  return e;
}

}  // namespace memvisor::daemon
