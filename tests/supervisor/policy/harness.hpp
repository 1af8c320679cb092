// Test harness for the policy: a fixed 100 MiB ladder, a fake clock (seconds since t0) and
// helpers to feed samples and results.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "memvisor/policy/policy.hpp"

namespace memvisor::policy::testing {

using config::kMiB;
using namespace std::chrono_literals;

// 70% trim, 80% sweep, 90% compact, 100% restart, each at once (1 sample), cooldown 60 s,
// min_freed 1 MiB; hysteresis 5%; hard ceiling 110%; no start-up grace.
inline BotPolicy ladder() {
  BotPolicy p;
  p.limit = 100 * kMiB;
  auto t = [](double pct, ActionKind a) {
    config::Threshold th;
    th.at = config::SizeSpec::percentOf(pct);
    th.action = a;
    th.sustain = config::Sustain{Duration{0}, 0};
    th.cooldown = std::chrono::seconds(60);
    th.min_freed = 1 * kMiB;
    return th;
  };
  p.thresholds = {t(70, ActionKind::kTrim), t(80, ActionKind::kSweep), t(90, ActionKind::kCompact),
                  t(100, ActionKind::kRestart)};
  p.hysteresis = config::SizeSpec::percentOf(5);
  p.hard_ceiling = config::SizeSpec::percentOf(110);
  p.startup_grace = Duration{0};
  return p;
}

class Harness {
 public:
  explicit Harness(BotPolicy p = ladder()) : p_(std::move(p)), s_(makeState(p_, t0_)) {}

  // One sample of `mib` MiB at t0 + `at`.
  Decision sample(Duration at, double mib) {
    return step(s_, Sample{static_cast<Bytes>(mib * static_cast<double>(kMiB))}, p_, t0_ + at);
  }
  std::vector<Note> result(Duration at, ActionKind a, Outcome o, double freed_mib = 0,
                           std::string error = "") {
    return onActionResult(s_, ActionResult{a, o, static_cast<Bytes>(freed_mib * static_cast<double>(kMiB)), error}, p_,
                          t0_ + at);
  }
  BotPolicy& policy() { return p_; }
  PolicyState& state() { return s_; }
  TimePoint t0() const { return t0_; }

 private:
  TimePoint t0_ = TimePoint{} + std::chrono::hours(1000);
  BotPolicy p_;
  PolicyState s_;
};

// The non-alert action of a decision, or nullopt.
inline std::optional<ActionKind> actionOf(const Decision& d) {
  for (const auto& a : d.actions) {
    if (a.action != ActionKind::kAlert) return a.action;
  }
  return std::nullopt;
}

inline const Intent* intentOf(const Decision& d) {
  for (const auto& a : d.actions) {
    if (a.action != ActionKind::kAlert) return &a;
  }
  return nullptr;
}

inline bool hasNote(const std::vector<Note>& notes, const std::string& kind, const std::string& text = "") {
  for (const auto& n : notes) {
    if (n.kind == kind && n.message.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace memvisor::policy::testing
