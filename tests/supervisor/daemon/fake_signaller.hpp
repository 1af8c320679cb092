// A Signaller that records every signal and, when asked, also delivers it for real.
#pragma once

#include <vector>

#include "memvisor/daemon/signaller.hpp"

namespace memvisor::daemon::testing {

class RecordingSignaller : public Signaller {
 public:
  struct Call {
    pid_t pid;
    int sig;
    bool group;
  };
  explicit RecordingSignaller(bool deliver = false) : deliver_(deliver) {}
  Result<void> signal(const Pidfd& target, int sig, bool group) override {
    calls.push_back({target.pid(), sig, group});
    if (deliver_) return real_.signal(target, sig, group);
    return okResult();
  }
  std::vector<Call> calls;

 private:
  bool deliver_;
  PidfdSignaller real_;
};

}  // namespace memvisor::daemon::testing
