#include "memvisor/proto/parts.hpp"

#include "memvisor/proto/codec.hpp"

namespace memvisor::proto {

namespace {

// The array a splittable result carries.
template <class R>
auto& itemsOf(R& r) {
  if constexpr (std::is_same_v<std::remove_const_t<R>, StatusResult>) {
    return r.bots;
  } else {
    return r.results;
  }
}

template <class R>
Result<std::vector<std::string>> split(const R& m, std::size_t max) {
  std::string whole = encode(m);
  if (whole.size() <= max) return std::vector<std::string>{whole + "\n"};
  // Sizes add up exactly: a compact array is "[" item ("," item)* "]", so each item's share
  // is its encoding in a one-item part minus the empty part. One encode per item, not one
  // per candidate part.
  R shell = m;
  itemsOf(shell).clear();
  shell.more = true;
  const std::size_t base = encode(shell).size();
  std::vector<std::string> frames;
  R part = shell;
  std::size_t size = base;
  const auto& items = itemsOf(m);
  for (std::size_t i = 0; i < items.size(); ++i) {
    R one = shell;
    itemsOf(one).push_back(items[i]);
    const std::size_t item = encode(one).size() - base;
    if (base + item > max) {
      return Error{errc::kTooLarge, typeName(Message(m)) + ": item " + std::to_string(i) +
                                        " alone is " + std::to_string(base + item) +
                                        " bytes, over the frame limit of " +
                                        std::to_string(max)};
    }
    const bool first = itemsOf(part).empty();
    if (!first && size + 1 + item > max) {
      frames.push_back(encodeFrame(part));
      itemsOf(part).clear();
      size = base;
    }
    size += (itemsOf(part).empty() ? 0 : 1) + item;
    itemsOf(part).push_back(items[i]);
  }
  part.more = m.more;  // the last part ends the answer (unless `m` itself is a part)
  frames.push_back(encodeFrame(part));
  if (items.empty()) {  // too large without any item: nothing to cut
    return Error{errc::kTooLarge, typeName(Message(m)) + " is " + std::to_string(whole.size()) +
                                      " bytes without items, over the frame limit of " +
                                      std::to_string(max)};
  }
  return frames;
}

template <class R>
Result<void> append(R& whole, const Message& part) {
  const auto* p = std::get_if<R>(&part);
  if (p == nullptr || p->id != whole.id || !whole.more) {
    return Error{errc::kUnexpected, "\"" + typeName(part) + "\" is not the next part of " +
                                        typeName(Message(whole)) + " id " +
                                        std::to_string(whole.id)};
  }
  auto& dst = itemsOf(whole);
  const auto& src = itemsOf(*p);
  dst.insert(dst.end(), src.begin(), src.end());
  whole.more = p->more;
  return okResult();
}

}  // namespace

bool splittable(const Message& m) {
  return std::holds_alternative<StatusResult>(m) || std::holds_alternative<RunResult>(m) ||
         std::holds_alternative<LifecycleResult>(m);
}

bool hasMore(const Message& m) {
  if (const auto* s = std::get_if<StatusResult>(&m)) return s->more;
  if (const auto* r = std::get_if<RunResult>(&m)) return r->more;
  if (const auto* l = std::get_if<LifecycleResult>(&m)) return l->more;
  return false;
}

Result<std::vector<std::string>> encodeParts(const Message& m, std::size_t max_frame) {
  if (const auto* s = std::get_if<StatusResult>(&m)) return split(*s, max_frame);
  if (const auto* r = std::get_if<RunResult>(&m)) return split(*r, max_frame);
  if (const auto* l = std::get_if<LifecycleResult>(&m)) return split(*l, max_frame);
  std::string frame = encodeFrame(m);
  if (frame.size() - 1 > max_frame) {
    return Error{errc::kTooLarge, typeName(m) + " is " + std::to_string(frame.size() - 1) +
                                      " bytes, over the frame limit of " +
                                      std::to_string(max_frame) + ", and cannot be split"};
  }
  return std::vector<std::string>{std::move(frame)};
}

Result<void> appendPart(Message& whole, const Message& part) {
  if (auto* s = std::get_if<StatusResult>(&whole)) return append(*s, part);
  if (auto* r = std::get_if<RunResult>(&whole)) return append(*r, part);
  if (auto* l = std::get_if<LifecycleResult>(&whole)) return append(*l, part);
  return Error{errc::kUnexpected, typeName(whole) + " does not come in parts"};
}

}  // namespace memvisor::proto
