// ThresholdRegistrar: writes cgroup v1 threshold registrations off the event loop.
//
// Each write to cgroup.event_control waits for an RCU grace period under the group's
// thresholds_lock: a median of 8 ms (up to 24 ms) measured on these machines. Arming the
// thresholds of a thousand bots one write after another would hold memvisord's loop for a
// minute, and re-arming a bot's thresholds while it grows would blind its sampling for the
// length of a few writes. Writers in different groups share grace periods (one thread:
// 10.95 ms a registration; 8 threads: 2.69 ms; 32 threads: 0.63 ms), so a few threads that
// do nothing but sleep in that write arm a thousand bots in seconds. That is the reason for
// these threads; they start when there is work and exit when there has been none for a while.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace memvisor::detection {

class ThresholdRegistrar {
 public:
  explicit ThresholdRegistrar(std::size_t max_threads = 16,
                              std::chrono::milliseconds idle_exit = std::chrono::seconds(5));
  ~ThresholdRegistrar();  // drops queued jobs, waits for running ones
  ThresholdRegistrar(const ThresholdRegistrar&) = delete;
  ThresholdRegistrar& operator=(const ThresholdRegistrar&) = delete;

  // Runs job on one of the threads. A job must not touch the event loop's objects: it hands
  // its result back with boost::asio::post. Jobs still queued at destruction never run.
  void submit(std::function<void()> job);

  [[nodiscard]] std::size_t threads() const;  // currently alive, for tests and status

 private:
  void work();

  const std::size_t max_threads_;
  const std::chrono::milliseconds idle_exit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  std::vector<std::thread::id> finished_;  // exited, to be joined
  std::size_t alive_ = 0;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace memvisor::detection
