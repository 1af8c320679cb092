#include "memvisor/policy/settle.hpp"

#include <algorithm>

namespace memvisor::policy {

Settle::Settle(config::Bytes before, config::Bytes at_reply, SettleRule rule, TimePoint start)
    : before_(before), last_(at_reply), lowest_(at_reply), rule_(rule), start_(start) {}

void Settle::replied(config::Bytes expect) {
  rule_.expect = expect;
  // The quiet samples taken while the bot was settling count: a bot that ended its own settle
  // on quiet samples (the Node client's settleRss) has memvisord's window end with it, one
  // sample after the reply, instead of catching traffic the bot's figure does not include.
}

bool Settle::add(config::Bytes bytes, TimePoint now) {
  ++samples_;
  quiet_ = last_ - bytes > rule_.quiet_bytes ? 0 : quiet_ + 1;
  last_ = bytes;
  lowest_ = std::min(lowest_, bytes);
  return done(now);
}

bool Settle::done(TimePoint now) const {
  if (now - start_ >= rule_.max) return true;
  const bool released = rule_.expect <= 4 * 1024 * 1024 || before_ - lowest_ >= rule_.expect / 2;
  return quiet_ >= rule_.quiet_samples && released;
}

}  // namespace memvisor::policy
