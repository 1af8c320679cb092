// Answers in parts (PROTOCOL.md 7.6): a control result too large for one frame is carried in
// several, each under the frame limit, every one but the last marked `more`. Both halves are
// here: cutting a result into frames (memvisord) and putting the parts back together
// (clients). Pure: no I/O, so both are unit-tested and fuzzable like the codec.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "memvisor/proto/messages.hpp"
#include "memvisor/result.hpp"

namespace memvisor::proto {

// status_result, run_result and lifecycle_result: the results whose array grows with the
// number of bots, and the only ones that may come in parts.
bool splittable(const Message& m);
// True for a part that another part of the same answer follows.
bool hasMore(const Message& m);

// Wire frames ("\n"-terminated) carrying `m`, none longer than `max_frame` bytes of JSON.
// A message that fits is one frame, exactly encodeFrame(m). A splittable result that does
// not is cut between items of its array, in order, every part but the last with more=true.
// Error (code too_large) when `m` cannot be carried: it is not splittable, or one item
// alone exceeds the limit.
Result<std::vector<std::string>> encodeParts(const Message& m,
                                             std::size_t max_frame = kMaxFrameBytes);

// Receiver side: appends the array of `part` to `whole` (the first part received). Error
// (code unexpected_message) when `part` is not a part of `whole`: another type or id, or
// `whole` was already complete. On success `whole.more` is the part's: false = complete.
Result<void> appendPart(Message& whole, const Message& part);

}  // namespace memvisor::proto
