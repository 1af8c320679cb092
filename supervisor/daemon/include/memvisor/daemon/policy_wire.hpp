// The policy speaks its own types (it has no protocol dependency); this is where the
// daemon translates them to the wire's and the journal's.
#pragma once

#include <cstdint>
#include <string>

#include "memvisor/policy/policy.hpp"
#include "memvisor/proto/messages.hpp"

namespace memvisor::daemon {

proto::Urgency toProto(policy::Urgency u);
proto::Level toProto(policy::Level l);
// A policy Note as a journal entry, with the time and the bot it is about.
proto::JournalEntry toJournalEntry(const policy::Note& n, const std::string& bot, std::int64_t ts_ms);

}  // namespace memvisor::daemon
