// cgroup v1 memory thresholds: one eventfd per threshold registered through
// cgroup.event_control on memory.usage_in_bytes; the kernel signals it on each crossing
// (up or down) and when the group is removed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "memvisor/detection/event.hpp"
#include "memvisor/detection/threshold_registrar.hpp"
#include "memvisor/result.hpp"

namespace memvisor::detection {

class V1ThresholdWatcher : public std::enable_shared_from_this<V1ThresholdWatcher> {
 public:
  // Registers every threshold (bytes) on <cgroup_dir> and starts waiting. Error codes:
  // "eacces"/"enoent"/... from cgroup.event_control or memory.usage_in_bytes, "invalid" when
  // thresholds is empty. On error nothing stays registered.
  //
  // Without a registrar the registrations are written here, on the caller's thread (about
  // 8 ms each). With one, the files and eventfds are opened and the registrations written on
  // its threads: create() returns at once (only "invalid" is reported from here), and
  // on_armed is posted to io with the outcome (never after stop(); on failure the watcher has
  // stopped itself). armed() says whether the registrations are in place.
  using ArmedCallback = std::function<void(const Result<void>&)>;
  static Result<std::shared_ptr<V1ThresholdWatcher>> create(
      boost::asio::io_context& io, const std::string& cgroup_dir,
      std::vector<std::uint64_t> thresholds, Callback callback,
      ThresholdRegistrar* registrar = nullptr, ArmedCallback on_armed = {});
  ~V1ThresholdWatcher();

  // Closes the eventfds (the kernel then unregisters them); idempotent.
  void stop();
  // The thresholds registered, or being registered.
  [[nodiscard]] std::size_t armedCount() const { return thresholds_.size(); }
  [[nodiscard]] bool armed() const { return armed_; }
  [[nodiscard]] const std::string& cgroupDir() const { return dir_; }

  struct Entry;  // one eventfd and its threshold
  struct FdGuard;

 private:
  V1ThresholdWatcher(std::string dir, Callback callback);
  void wait(std::size_t index);
  // Takes the registered eventfds (in thresholds_ order) and starts waiting on them.
  Result<void> adopt(boost::asio::io_context& io, std::vector<FdGuard> efds);

  std::string dir_;
  Callback callback_;
  std::vector<std::uint64_t> thresholds_;
  std::vector<std::unique_ptr<Entry>> entries_;
  bool stopped_ = false;
  bool armed_ = false;
};

}  // namespace memvisor::detection
