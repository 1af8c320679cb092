// Cost of memvisord's sampling paths on a real process of ~300 MiB in 2000 mappings (the shape
// of a grown Node.js bot): statm by open/read/close vs a kept fd, status, smaps_rollup, one
// whole Sampler tick with and without PSS, and the v1 cgroup files. Numbers, not pass/fail.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "memvisor/sampling/cgroup.hpp"
#include "memvisor/sampling/cgroup_memory.hpp"
#include "memvisor/sampling/process_files.hpp"
#include "memvisor/sampling/sampler.hpp"

namespace {

using namespace memvisor::sampling;

pid_t g_child = 0;

void killChild() {
  if (g_child > 0) {
    kill(g_child, SIGKILL);
    waitpid(g_child, nullptr, 0);
  }
}

// A child holding 2000 mappings of 150 KiB, all touched; started once, killed at exit.
pid_t bigProcess() {
  if (g_child) return g_child;
  int p[2];
  if (pipe(p) != 0) std::abort();
  g_child = fork();
  if (g_child == 0) {
    for (int i = 0; i < 2000; ++i) {
      const size_t n = 150 << 10;
      auto* a = static_cast<char*>(
          mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      if (a == MAP_FAILED) _exit(1);
      std::memset(a, 1, n);
      mprotect(a + 4096, 4096, PROT_READ);  // split the vma so neighbours don't merge
    }
    char c = 'k';
    if (write(p[1], &c, 1) != 1) _exit(1);
    pause();
    _exit(0);
  }
  char c;
  if (read(p[0], &c, 1) != 1) std::abort();
  std::atexit(killChild);
  return g_child;
}

void BM_ReadStatmOpenReadClose(benchmark::State& s) {
  const SysPaths paths;
  const pid_t pid = bigProcess();
  for (auto _ : s) benchmark::DoNotOptimize(readStatm(paths, pid));
}
void BM_StatmReaderPread(benchmark::State& s) {
  auto r = StatmReader::open(SysPaths{}, bigProcess());
  if (!r) return s.SkipWithError(r.error().message.c_str());
  for (auto _ : s) benchmark::DoNotOptimize(r->read());
}
void BM_ReadStatus(benchmark::State& s) {
  const SysPaths paths;
  const pid_t pid = bigProcess();
  for (auto _ : s) benchmark::DoNotOptimize(readStatus(paths, pid));
}
void BM_ReadSmapsRollup(benchmark::State& s) {
  const SysPaths paths;
  const pid_t pid = bigProcess();
  for (auto _ : s) benchmark::DoNotOptimize(readSmapsRollup(paths, pid));
}
void BM_SamplerTickWithoutPss(benchmark::State& s) {
  SamplerOptions o;
  o.pss_interval = std::chrono::hours(1);
  Sampler sampler(SysPaths{}, bigProcess(), o);
  const auto t = Clock::now();
  (void)sampler.sample(t);  // first tick reads PSS once
  for (auto _ : s) benchmark::DoNotOptimize(sampler.sample(t));
}
void BM_SamplerTickWithPss(benchmark::State& s) {
  SamplerOptions o;
  o.pss_interval = std::chrono::milliseconds(0);
  Sampler sampler(SysPaths{}, bigProcess(), o);
  const auto t = Clock::now();
  for (auto _ : s) benchmark::DoNotOptimize(sampler.sample(t));
}
void BM_ReadCgroupV1Memory(benchmark::State& s) {
  auto loc = resolveCgroup(SysPaths{}, getpid());
  if (!loc || loc->memory_version != CgroupVersion::kV1)
    return s.SkipWithError("no cgroup v1 memory controller here");
  for (auto _ : s) benchmark::DoNotOptimize(readCgroupV1Memory(loc->memory_dir));
}

}  // namespace

BENCHMARK(BM_ReadStatmOpenReadClose);
BENCHMARK(BM_StatmReaderPread);
BENCHMARK(BM_ReadStatus);
BENCHMARK(BM_ReadSmapsRollup)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SamplerTickWithoutPss);
BENCHMARK(BM_SamplerTickWithPss)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadCgroupV1Memory);
