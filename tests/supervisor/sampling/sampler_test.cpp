// The Sampler façade: sums over the process tree, PSS at a lower rate with an injected clock,
// cgroup figures; on captured fixtures and on real processes in a real v1 cgroup.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "memvisor/sampling/cgroup_memory.hpp"
#include "memvisor/sampling/sampler.hpp"
#include "support/child_process.hpp"
#include "support/fixtures.hpp"
#include "support/v1_test_cgroup.hpp"

namespace memvisor::sampling {
namespace {

using namespace std::chrono_literals;
using testing::fixturePaths;
using testing::kV1Bot;

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * 1024;

TEST(Sampler, SumsCapturedTreeAndReadsItsV1Cgroup) {
  Sampler sampler(fixturePaths("v1_tree"), kV1Bot);
  const auto t0 = Clock::time_point{} + 1000s;
  auto s = sampler.sample(t0);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->at, t0);
  EXPECT_EQ(s->root_pid, kV1Bot);
  EXPECT_EQ(s->process_count, 2u);
  EXPECT_EQ(s->rss_bytes, (19763u + 27228u) * pageSize());
  EXPECT_EQ(s->rss_anon_bytes, (72420 + 105192) * kKiB);
  EXPECT_EQ(s->rss_file_bytes, (6632 + 3720) * kKiB);
  EXPECT_EQ(s->swap_bytes, 0u);
  EXPECT_TRUE(s->pss_fresh);
  EXPECT_EQ(s->pss_bytes, (40551 + 70869) * kKiB);
  EXPECT_EQ(s->uss_bytes, (2424 + 948 + 20 + 33720) * kKiB);
  EXPECT_EQ(s->pss_at, t0);
  ASSERT_TRUE(s->cgroup.has_value()) << (s->cgroup_error ? s->cgroup_error->message : "");
  EXPECT_EQ(s->cgroup->version, CgroupVersion::kV1);
  EXPECT_EQ(s->cgroup_usage_bytes, 126722048u);
  EXPECT_EQ(s->cgroup_limit_bytes, 268435456u);
  EXPECT_EQ(s->working_set_bytes, 126722048u - 16777216u);
  EXPECT_EQ(s->oom_kill_count, 0u);
  EXPECT_FALSE(s->cgroup_error.has_value());
}

TEST(Sampler, RefreshesPssOnlyAtItsInterval) {
  SamplerOptions options;
  options.pss_interval = 30s;
  Sampler sampler(fixturePaths("v1_tree"), kV1Bot, options);
  const auto t0 = Clock::time_point{} + 1000s;
  struct Step {
    std::chrono::seconds at;
    bool fresh;
    std::chrono::seconds pss_at;
  } steps[] = {{0s, true, 0s}, {10s, false, 0s}, {29s, false, 0s}, {30s, true, 30s},
               {45s, false, 30s}, {61s, true, 61s}};
  for (const auto& step : steps) {
    auto s = sampler.sample(t0 + step.at);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->pss_fresh, step.fresh) << step.at.count();
    EXPECT_EQ(s->pss_at, t0 + step.pss_at) << step.at.count();
    EXPECT_EQ(s->pss_bytes, (40551 + 70869) * kKiB);  // carried over between refreshes
  }
  sampler.requestPss();
  auto forced = sampler.sample(t0 + 62s);
  ASSERT_TRUE(forced.ok());
  EXPECT_TRUE(forced->pss_fresh);
}

TEST(Sampler, ReadsDocumentedV2Cgroup) {
  Sampler sampler(fixturePaths("v2_unified"), kV1Bot);
  auto s = sampler.sample(Clock::time_point{});
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(s->cgroup.has_value());
  EXPECT_EQ(s->cgroup->version, CgroupVersion::kV2);
  EXPECT_EQ(s->cgroup_limit_bytes, 402653184u);
  EXPECT_EQ(s->oom_kill_count, 2u);
  EXPECT_EQ(s->working_set_bytes, 318767104u - 41943040u);
  ASSERT_TRUE(sampler.cgroup().has_value());
  EXPECT_EQ(sampler.cgroup()->memory_dir,
            fixturePaths("v2_unified").cgroup_root + "/system.slice/bot.service");
}

TEST(Sampler, SkipsZombieVanishedAndTruncatedChildren) {
  // hostile: 500 lists a zombie (501), a vanished pid (502) and truncated files (503).
  SamplerOptions options;
  Sampler sampler(fixturePaths("hostile"), 500, options);
  auto s = sampler.sample(Clock::time_point{});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->process_count, 1u);
  EXPECT_EQ(s->rss_bytes, 19763u * pageSize());
  EXPECT_EQ(s->pss_bytes, 40551 * kKiB);
  // Its cgroup line names a v1 group absent from this tree: no cgroup, and no error either.
  EXPECT_FALSE(s->cgroup.has_value());
  EXPECT_FALSE(s->cgroup_error.has_value());
}

TEST(Sampler, SaysGoneWhenRootIsMissing) {
  Sampler sampler(fixturePaths("hostile"), 502);
  auto s = sampler.sample(Clock::time_point{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "gone");
}

TEST(Sampler, UsesGivenCgroupInsteadOfDiscovering) {
  SamplerOptions options;
  options.cgroup = CgroupLocation{CgroupVersion::kV2,
                                  testing::fixture("v2_unlimited/sys/fs/cgroup/user.slice/bot"),
                                  std::nullopt};
  options.follow_tree = false;
  Sampler sampler(fixturePaths("v1_tree"), kV1Bot, options);
  auto s = sampler.sample(Clock::time_point{});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->process_count, 1u);
  ASSERT_TRUE(s->cgroup.has_value());
  EXPECT_EQ(s->cgroup->version, CgroupVersion::kV2);
  EXPECT_FALSE(s->cgroup_limit_bytes.has_value());
}

TEST(Sampler, SeesRealChildRssGrowAfterItAllocates) {
  testing::AllocatorChild child;
  ASSERT_TRUE(child.grow(1));
  Sampler sampler(SysPaths{}, child.pid());
  auto t = Clock::now();
  auto before = sampler.sample(t);
  ASSERT_TRUE(before.ok()) << before.error().message;
  ASSERT_TRUE(child.grow(64));
  // The hot path sees the RSS at once; the status breakdown is a slow figure, carried over...
  auto fast = sampler.sample(t + 1s);
  ASSERT_TRUE(fast.ok()) << fast.error().message;
  EXPECT_GE(fast->rss_bytes, before->rss_bytes + 60 * kMiB);
  EXPECT_FALSE(fast->slow_fresh);
  EXPECT_EQ(fast->rss_anon_bytes, before->rss_anon_bytes);
  // ...until its interval passes or it is asked for (as the daemon does after an action).
  sampler.requestPss();
  sampler.requestSlow();
  auto after = sampler.sample(t + 1100ms);
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_TRUE(after->slow_fresh);
  EXPECT_GE(after->rss_bytes, before->rss_bytes + 60 * kMiB);
  EXPECT_GE(after->rss_anon_bytes, before->rss_anon_bytes + 60 * kMiB);
  ASSERT_TRUE(after->pss_fresh);
  EXPECT_GE(*after->uss_bytes, *before->uss_bytes + 60 * kMiB);
}

TEST(Sampler, SaysGoneAfterRealRootExitsAndFollowsNewRootAfterReset) {
  auto first = std::make_unique<testing::AllocatorChild>();
  Sampler sampler(SysPaths{}, first->pid());
  ASSERT_TRUE(sampler.sample(Clock::now()).ok());
  ::kill(first->pid(), SIGKILL);
  first->reap();
  auto gone = sampler.sample(Clock::now());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, "gone");

  testing::AllocatorChild second;
  sampler.reset(second.pid());
  auto s = sampler.sample(Clock::now());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->root_pid, second.pid());
  EXPECT_TRUE(s->pss_fresh);
}

TEST(Sampler, ReadsRealV1ChildCgroupOfTheBot) {
  testing::V1TestCgroup cgroup;
  if (!cgroup.ok()) GTEST_SKIP() << cgroup.reason();
  ASSERT_TRUE(cgroup.setLimit(256 * kMiB));
  testing::AllocatorChild child;
  ASSERT_TRUE(cgroup.addProcess(child.pid()));
  ASSERT_TRUE(child.grow(32));

  Sampler sampler(SysPaths{}, child.pid());
  auto s = sampler.sample(Clock::now());
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(sampler.cgroup().has_value());
  EXPECT_EQ(sampler.cgroup()->memory_dir, cgroup.dir());
  ASSERT_TRUE(s->cgroup.has_value()) << (s->cgroup_error ? s->cgroup_error->message : "");
  EXPECT_EQ(s->cgroup_limit_bytes, 256 * kMiB);
  EXPECT_GE(*s->cgroup_usage_bytes, 32 * kMiB);
  EXPECT_GE(*s->working_set_bytes, 32 * kMiB);
  EXPECT_LE(*s->working_set_bytes, *s->cgroup_usage_bytes);
  EXPECT_EQ(s->oom_kill_count, 0u);
  ::kill(child.pid(), SIGKILL);
  child.reap();
}

TEST(ReadCgroupV1Memory, CountsRealOomKillInTestCgroup) {
  testing::V1TestCgroup cgroup;
  if (!cgroup.ok()) GTEST_SKIP() << cgroup.reason();
  ASSERT_TRUE(cgroup.setLimit(32 * kMiB));
  testing::AllocatorChild child;
  ASSERT_TRUE(cgroup.addProcess(child.pid()));
  EXPECT_FALSE(child.grow(64));  // the kernel kills it before it can confirm
  int status = child.reap();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  auto memory = readCgroupV1Memory(cgroup.dir());
  ASSERT_TRUE(memory.ok()) << memory.error().message;
  EXPECT_EQ(memory->oom_kill_count, 1u);
  EXPECT_GT(*memory->failcnt, 0u);
  EXPECT_EQ(memory->limit_bytes, 32 * kMiB);
}

}  // namespace
}  // namespace memvisor::sampling
