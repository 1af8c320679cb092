// Choosing a bot's detection (pure, table-driven), probing fixture and real cgroups, and arming
// the chosen watchers for real.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>

#include "memvisor/detection/plan.hpp"
#include "memvisor/detection/v1_thresholds.hpp"
#include "memvisor/sampling/cgroup.hpp"
#include "run_until.hpp"  // tests/support
#include "support/child_process.hpp"
#include "support/temp_tree.hpp"
#include "support/v1_test_cgroup.hpp"

namespace memvisor::detection {
namespace {

using sampling::CgroupVersion;
constexpr std::uint64_t kMiB = 1024 * 1024;

TEST(PlanDetection, ExplainsEachChoice) {
  DetectionProbe v1;
  v1.memory_version = CgroupVersion::kV1;
  v1.memory_dir = "/sys/fs/cgroup/memory/x";
  v1.v1_event_control_writable = true;
  v1.cgroup_pressure_path = "/sys/fs/cgroup/unified/x/memory.pressure";
  DetectionProbe v1_readonly = v1;
  v1_readonly.v1_event_control_writable = false;
  v1_readonly.cgroup_pressure_path.clear();
  DetectionProbe v2;
  v2.memory_version = CgroupVersion::kV2;
  v2.memory_dir = "/sys/fs/cgroup/bot";
  v2.v2_memory_events_present = true;
  v2.cgroup_pressure_path = "/sys/fs/cgroup/bot/memory.pressure";
  DetectionProbe nothing;
  DetectionProbe psi_only;
  psi_only.cgroup_pressure_path = "/sys/fs/cgroup/unified/bot/memory.pressure";
  DetectionProbe shared = v1;  // memvisord's own group, holding every bot without one
  shared.sharing = sampling::CgroupSharing{true, 201, 200};
  DetectionProbe own = v1;     // checked, and nothing but the bot's tree in it
  own.sharing = sampling::CgroupSharing{false, 2, 0};

  DetectionPreferences psi_off;
  psi_off.use_psi = false;
  DetectionPreferences psi_1s;
  psi_1s.psi.window = std::chrono::microseconds(1'000'000);

  const std::vector<std::uint64_t> three{300 * kMiB, 200 * kMiB, 350 * kMiB, 0, 200 * kMiB};
  struct Case {
    const char* name;
    DetectionProbe probe;
    std::vector<std::uint64_t> thresholds;
    DetectionPreferences prefs;
    std::string reason;
  } cases[] = {
      {"v1", v1, three, psi_off, "cgroup v1 thresholds on /sys/fs/cgroup/memory/x: 3 eventfds"},
      {"v1+psi", v1, three, {},
       "cgroup v1 thresholds on /sys/fs/cgroup/memory/x: 3 eventfds; PSI trigger some 150000 "
       "2000000 on /sys/fs/cgroup/unified/x/memory.pressure"},
      {"v1, checked own", own, three, psi_off,
       "cgroup v1 thresholds on /sys/fs/cgroup/memory/x: 3 eventfds"},
      {"v1, shared", shared, three, {},
       "shared cgroup /sys/fs/cgroup/memory/x (holds memvisord itself and 200 other processes): "
       "no per-bot kernel notifications, polling only"},
      {"v1 no thresholds", v1, {}, psi_off,
       "no writable cgroup: polling only (cgroup v1 /sys/fs/cgroup/memory/x: no thresholds to "
       "register)"},
      {"v1 read-only", v1_readonly, three, {},
       "no writable cgroup: polling only (cgroup v1 /sys/fs/cgroup/memory/x: cgroup.event_control "
       "not writable; PSI off: no writable memory.pressure)"},
      {"v2", v2, three, {},
       "cgroup v2 memory.events inotify on /sys/fs/cgroup/bot/memory.events; PSI trigger some "
       "150000 2000000 on /sys/fs/cgroup/bot/memory.pressure"},
      {"nothing", nothing, three, {},
       "no writable cgroup: polling only (no memory cgroup; PSI off: no writable memory.pressure)"},
      {"psi only, rounded", psi_only, three, psi_1s,
       "no memory cgroup; PSI trigger some 150000 2000000 on "
       "/sys/fs/cgroup/unified/bot/memory.pressure (window 1000000us rounded to 2000000us "
       "(multiples of 2 s, 2-10 s)); polling for the bot's own figures"},
  };
  for (const auto& c : cases) {
    auto plan = planDetection(c.probe, c.thresholds, c.prefs);
    EXPECT_EQ(plan.reason, c.reason) << c.name;
  }
  auto plan = planDetection(v1, three);
  EXPECT_EQ(plan.v1_dir, "/sys/fs/cgroup/memory/x");
  EXPECT_EQ(plan.v1_thresholds, (std::vector<std::uint64_t>{200 * kMiB, 300 * kMiB, 350 * kMiB}));
  EXPECT_EQ(plan.psi_path, "/sys/fs/cgroup/unified/x/memory.pressure");
  EXPECT_EQ(plan.path, "eventfd");
  EXPECT_FALSE(plan.pollingOnly());
  EXPECT_TRUE(planDetection(nothing, three).pollingOnly());
  EXPECT_EQ(planDetection(nothing, three).path, "poll");
  EXPECT_EQ(planDetection(v2, three).path, "memory.events");
  EXPECT_EQ(planDetection(psi_only, three).path, "psi");
  auto on_shared = planDetection(shared, three);
  EXPECT_TRUE(on_shared.pollingOnly());
  EXPECT_TRUE(on_shared.shared_cgroup);
  EXPECT_EQ(on_shared.path, "poll");
}

TEST(ProbeDetection, FindsV2MemoryEventsAndPressureInTree) {
  testing::TempTree t;
  t.write("cgroup/bot/memory.events", "oom_kill 0\n");
  t.write("cgroup/bot/memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  sampling::CgroupLocation location{CgroupVersion::kV2, t.path("cgroup/bot"), t.path("cgroup/bot")};
  auto probe = probeDetection(sampling::SysPaths{t.path("proc"), t.path("cgroup")}, location);
  EXPECT_TRUE(probe.v2_memory_events_present);
  EXPECT_FALSE(probe.v1_event_control_writable);
  EXPECT_EQ(probe.cgroup_pressure_path, t.path("cgroup/bot/memory.pressure"));
  EXPECT_FALSE(probe.sharing.has_value());  // no bot pid given: not checked
}

TEST(ProbeDetection, ChecksWhoElseIsInAGroupMemvisordDidNotCreate) {
  testing::TempTree t;
  t.write("proc/20/stat", "20 (bot) S 1 20 20 0\n");
  t.write("proc/30/stat", "30 (other) S 1 30 30 0\n");
  t.write("cgroup/memory/shared/cgroup.procs", "20\n30\n");
  t.write("cgroup/memory/shared/cgroup.event_control", "");
  sampling::CgroupLocation location{CgroupVersion::kV1, t.path("cgroup/memory/shared"), {}};
  sampling::SysPaths paths{t.path("proc"), t.path("cgroup")};
  auto probe = probeDetection(paths, location, {20, 99});
  ASSERT_TRUE(probe.sharing.has_value());
  EXPECT_TRUE(probe.sharing->shared());
  EXPECT_TRUE(planDetection(probe, {kMiB}).shared_cgroup);
  t.write("cgroup/memory/shared/cgroup.procs", "20\n");
  auto own = probeDetection(paths, location, {20, 99});
  ASSERT_TRUE(own.sharing.has_value());
  EXPECT_FALSE(own.sharing->shared());
  EXPECT_EQ(planDetection(own, {kMiB}).path, "eventfd");
}

TEST(StartDetection, ArmsV1ThresholdsOnRealCgroupAndCollectsFailures) {
  testing::V1TestCgroup cgroup;
  if (!cgroup.ok()) GTEST_SKIP() << cgroup.reason();
  testing::AllocatorChild child;
  ASSERT_TRUE(cgroup.addProcess(child.pid()));

  auto location = sampling::resolveCgroup(sampling::SysPaths{}, child.pid());
  ASSERT_TRUE(location.ok()) << location.error().message;
  ASSERT_EQ(location->memory_dir, cgroup.dir());
  auto probe = probeDetection(sampling::SysPaths{}, *location);
  EXPECT_TRUE(probe.v1_event_control_writable);

  const std::uint64_t threshold = cgroup.usage() + 8 * kMiB;
  DetectionPreferences prefs;
  prefs.use_psi = false;
  auto plan = planDetection(probe, {threshold, threshold + 64 * kMiB}, prefs);
  plan.psi_path = "/nonexistent/memory.pressure";  // an arming failure is collected, not fatal

  boost::asio::io_context io;
  int calls = 0;
  DetectionSet set = startDetection(io, plan, [&](const Event&) { ++calls; });
  ASSERT_TRUE(set.v1) << set.reason;
  EXPECT_EQ(set.v1->armedCount(), 2u);
  ASSERT_EQ(set.failures.size(), 1u);
  EXPECT_EQ(set.failures[0].code, "enoent");
  EXPECT_EQ(set.reason, "cgroup v1 thresholds on " + cgroup.dir() +
                            ": 2 eventfds; PSI trigger failed: opening "
                            "/nonexistent/memory.pressure: No such file or directory");
  ASSERT_TRUE(child.grow(16));
  EXPECT_TRUE(testing::runUntil(io, [&] { return calls > 0; }));
  set.stop();
  ::kill(child.pid(), SIGKILL);
  child.reap();
}

TEST(StartDetection, SaysPollingOnlyWhenNothingArms) {
  boost::asio::io_context io;
  DetectionSet set = startDetection(io, DetectionPlan{}, [](const Event&) {});
  EXPECT_FALSE(set.v1 || set.v2_events || set.psi);
  EXPECT_EQ(set.reason, "no writable cgroup: polling only");
}

}  // namespace
}  // namespace memvisor::detection
