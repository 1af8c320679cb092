// A discord.js-style LimitedCollection: insertion-ordered map with a size limit that evicts
// the oldest-inserted entry first; limit 0 disables the cache (nothing is stored).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <list>
#include <unordered_map>
#include <utility>

namespace memvisor::bot {

template <typename V>
class LimitedCache {
 public:
  static constexpr std::size_t kUnlimited = std::numeric_limits<std::size_t>::max();

  explicit LimitedCache(std::size_t limit = kUnlimited) : limit_(limit) {}

  // Inserts or replaces `key`. A new key goes last in eviction order; replacing keeps the
  // key's place (Map semantics). Returns how many entries were evicted to stay in limit.
  std::size_t set(std::uint64_t key, V value) {
    if (limit_ == 0) return 0;
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->second = std::move(value);
      return 0;
    }
    std::size_t evicted = 0;
    while (order_.size() >= limit_) {
      eraseOldest();
      ++evicted;
    }
    order_.emplace_back(key, std::move(value));
    index_.emplace(key, std::prev(order_.end()));
    return evicted;
  }

  V* get(std::uint64_t key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->second;
  }

  bool erase(std::uint64_t key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    order_.erase(it->second);
    index_.erase(it);
    return true;
  }

  // Removes every entry for which pred(key, value) holds; returns how many.
  template <typename Pred>
  std::size_t sweep(Pred pred) {
    std::size_t n = 0;
    for (auto it = order_.begin(); it != order_.end();) {
      if (pred(it->first, it->second)) {
        index_.erase(it->first);
        it = order_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }

  // Evicts oldest entries until at most `n` remain; returns how many went.
  std::size_t shrinkTo(std::size_t n) {
    std::size_t evicted = 0;
    while (order_.size() > n) {
      eraseOldest();
      ++evicted;
    }
    return evicted;
  }

  // Gives the index's spare bucket capacity back to the allocator (a hash table never
  // shrinks its bucket array by itself); an empty cache drops its table entirely.
  void releaseCapacity() {
    if (index_.empty()) {
      std::unordered_map<std::uint64_t, typename List::iterator>().swap(index_);
    } else {
      index_.rehash(0);
    }
  }

  void setLimit(std::size_t limit) {
    limit_ = limit;
    shrinkTo(limit);
  }

  std::size_t size() const { return order_.size(); }
  std::size_t limit() const { return limit_; }
  std::size_t bucketCount() const { return index_.bucket_count(); }

  // Visits entries oldest first.
  template <typename F>
  void forEach(F f) const {
    for (const auto& [k, v] : order_) f(k, v);
  }

 private:
  using List = std::list<std::pair<std::uint64_t, V>>;

  void eraseOldest() {
    index_.erase(order_.front().first);
    order_.pop_front();
  }

  std::size_t limit_;
  List order_;
  std::unordered_map<std::uint64_t, typename List::iterator> index_;
};

}  // namespace memvisor::bot
