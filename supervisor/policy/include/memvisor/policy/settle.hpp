// How memvisord measures an action's effect itself (issue 9): after the bot's reply it samples
// the bot's figure until it settles, and takes the LOWEST sample as "after". A runtime returns
// freed pages in the background (V8: 1-3 s after a big collection), and under traffic the
// figure climbs again right after, so neither the bot's figure at reply time nor a sample
// taken at once shows what the action did. Pure: the daemon feeds samples and the time.
//
// The window is the bot's own: it starts when the action is sent and lasts `max` (3 s, the
// Node client's settle bound), or until the sample the daemon takes when the reply arrives,
// when the bot took longer (it settled itself). A window that went on 3 s past the reply counted V8 returning pages
// the bot's figure never could: in the discord.js long run memvisord said 57.9 MiB where
// the bot said 19.2, and 37 of 56 figures were more than 10 % apart.
#pragma once

#include <chrono>
#include <cstdint>

#include "memvisor/config/config.hpp"

namespace memvisor::policy {

// The Node.js client's settleRss (bot/node/lib/figures.js) ends on the same kind of rule
// (three quiet samples, the announced release half seen, a 3 s bound), with 50 ms steps.
struct SettleRule {
  std::chrono::milliseconds step{200};   // between samples
  std::chrono::milliseconds max{3000};   // bound after the action was sent
  config::Bytes quiet_bytes = 256 * 1024;  // a fall smaller than this is "quiet"
  int quiet_samples = 3;                 // settled after this many quiet samples in a row...
  // ...and, when the bot says it freed this much (heap_freed_bytes, else freed_bytes), once
  // the figure has fallen by at least half of it. Below 4 MiB: no such wait.
  config::Bytes expect = 0;
};

class Settle {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // `before`: the figure when the action was sent; `at_reply`: the first sample after it.
  Settle(config::Bytes before, config::Bytes at_reply, SettleRule rule, TimePoint start);
  // The bot has answered, with `expect` what the bot says it freed; the bound still counts
  // from the send, so a bot that settled past it is done at the next sample (the daemon
  // takes one at the reply). Samples added before (during the action and the bot's own
  // settle) count for the lowest figure and for the quiet samples: under traffic the release
  // can come before the reply, and a bot whose own settle already saw the figure quiet has
  // its window end with the reply too.
  void replied(config::Bytes expect);
  // Adds a sample; true once the figure has settled (or the bound has passed).
  bool add(config::Bytes bytes, TimePoint now);
  bool done(TimePoint now) const;
  config::Bytes before() const { return before_; }
  config::Bytes lowest() const { return lowest_; }
  config::Bytes freed() const { return before_ - lowest_; }  // negative: even the lowest sample after the reply is above `before`
  int samples() const { return samples_; }
  const SettleRule& rule() const { return rule_; }

 private:
  config::Bytes before_;
  config::Bytes last_;
  config::Bytes lowest_;
  SettleRule rule_;
  TimePoint start_;
  int quiet_ = 0;
  int samples_ = 1;
};

}  // namespace memvisor::policy
