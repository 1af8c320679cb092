#include "memvisor/detection/threshold_registrar.hpp"

#include <algorithm>

namespace memvisor::detection {

ThresholdRegistrar::ThresholdRegistrar(std::size_t max_threads,
                                       std::chrono::milliseconds idle_exit)
    : max_threads_(std::max<std::size_t>(1, max_threads)), idle_exit_(idle_exit) {}

ThresholdRegistrar::~ThresholdRegistrar() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

void ThresholdRegistrar::submit(std::function<void()> job) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  queue_.push_back(std::move(job));
  if (idle_ >= queue_.size() || alive_ >= max_threads_) {
    cv_.notify_one();
    return;
  }
  // Threads that exited after idling are joined here (they no longer need the lock), so the
  // vector never holds more than max_threads_ entries.
  for (auto id : finished_) {
    auto it = std::find_if(threads_.begin(), threads_.end(),
                           [id](const std::thread& t) { return t.get_id() == id; });
    if (it == threads_.end()) continue;
    it->join();
    threads_.erase(it);
  }
  finished_.clear();
  ++alive_;
  threads_.emplace_back([this] { work(); });
}

std::size_t ThresholdRegistrar::threads() const {
  std::lock_guard lock(mu_);
  return alive_;
}

void ThresholdRegistrar::work() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (stopping_) break;
    if (queue_.empty()) {
      ++idle_;
      const bool woke = cv_.wait_for(lock, idle_exit_, [this] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (!woke) break;  // idle long enough: exit; the next submit starts a thread again
      continue;
    }
    auto job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
  --alive_;
  finished_.push_back(std::this_thread::get_id());
}

}  // namespace memvisor::detection
