// Latency and bytes freed of the reference bot's trim, sweep and compact on a bot of about
// 300 MiB, and the synthetic gateway's event throughput. Numbers are reported, not asserted.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>

#include "actions.hpp"
#include "bot_state.hpp"
#include "gateway.hpp"
#include "memvisor/client/memory.hpp"

namespace {

using namespace memvisor::bot;
namespace client = memvisor::client;
constexpr std::int64_t kMiB = 1 << 20;
constexpr std::int64_t kTargetRss = 300 * kMiB;
constexpr double kSimRate = 20000;  // simulated events/s: sets message ages for the sweep

std::int64_t rss() {
  auto r = client::readRssBytes("/proc", "self");
  return r ? *r : 0;
}

WorkloadConfig workload(std::int64_t body_min, std::int64_t body_max) {
  WorkloadConfig w;
  w.body_min = body_min;
  w.body_max = body_max;
  return w;
}

// A bloated bot (no cache limits) grown until the process RSS reaches ~300 MiB, events
// stamped as if arriving at kSimRate. Returns the simulated "now".
std::int64_t grow(BotState& s, SyntheticGateway& g) {
  std::int64_t i = 0;
  while (true) {
    for (int k = 0; k < 1000; ++k, ++i) g.step(s, static_cast<std::int64_t>(static_cast<double>(i) * 1000.0 / kSimRate));
    if (rss() >= kTargetRss) break;
  }
  return static_cast<std::int64_t>(static_cast<double>(i) * 1000.0 / kSimRate);
}

struct Fresh {
  explicit Fresh(PayloadLayout layout)
      : state(std::make_unique<BotState>(20, 10, CacheLimits::unlimited(), layout)), now_ms(grow(*state, gateway)) {}
  WorkloadConfig w = workload(256, 16 * 1024);
  std::unique_ptr<BotState> state;
  SyntheticGateway gateway{w, 1};
  std::int64_t now_ms;
};

// range(0): 0 = segments layout (the default), 1 = heap layout (one new[] per payload).
PayloadLayout layoutArg(const benchmark::State& st) {
  return st.range(0) == 0 ? PayloadLayout::kSegments : PayloadLayout::kHeap;
}

template <typename Action>
void runAction(benchmark::State& st, Action action) {
  std::int64_t freed = 0, before = 0, after = 0;
  for (auto _ : st) {
    client::trimHeap();  // start each round from a clean heap
    auto f = std::make_unique<Fresh>(layoutArg(st));
    const std::int64_t b = rss();
    const auto t0 = std::chrono::steady_clock::now();
    action(*f);
    const auto t1 = std::chrono::steady_clock::now();
    const std::int64_t a = rss();
    st.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    freed += b - a;
    before += b;
    after += a;
    st.PauseTiming();
    f.reset();
    st.ResumeTiming();
  }
  const double n = static_cast<double>(st.iterations());
  st.counters["rss_before_MiB"] = static_cast<double>(before) / n / kMiB;
  st.counters["rss_after_MiB"] = static_cast<double>(after) / n / kMiB;
  st.counters["freed_MiB"] = static_cast<double>(freed) / n / kMiB;
}

// trim on a 300 MiB bot whose caches hold everything: the heap has nothing free.
void BM_TrimFullHeap(benchmark::State& st) {
  runAction(st, [](Fresh&) { runTrim(processMeasure()); });
}
// trim after the caches dropped their older half without trimming (what a bot's own
// sweepers leave behind). With segments, the eviction itself already returned the pages.
void BM_TrimAfterEviction(benchmark::State& st) {
  runAction(st, [](Fresh& f) {
    f.state->sweepMessages(f.now_ms, f.now_ms / 2);
    // Only the trim is meant to be timed; the eviction is cheap next to it and is part of
    // the "before" RSS (freeing alone does not lower RSS).
    runTrim(processMeasure());
  });
}
// memvisord's sweep at each urgency: messages older than the scaled lifetime (the bot's
// configured lifetime is set to the age of the bot, so "normal" sweeps the older half).
void BM_Sweep(benchmark::State& st) {
  const auto urgency = static_cast<memvisor::proto::Urgency>(st.range(1));
  runAction(st, [urgency](Fresh& f) {
    BotConfig c;
    c.sweep_messages_lifetime_s = std::max<std::int64_t>(1, f.now_ms / 1000);
    runSweep(*f.state, c, urgency, f.now_ms, processMeasure());
  });
}
void BM_Compact(benchmark::State& st) {
  runAction(st, [](Fresh& f) { runCompact(*f.state, processMeasure()); });
}

// Events per second the gateway + caches sustain on one core, at the seed's limits (steady
// state: every message evicts one) and in bloat mode with large bodies.
void BM_EventThroughputSeedLimits(benchmark::State& st) {
  const auto w = workload(16, 2000);
  BotState s(20, 10, CacheLimits{});
  SyntheticGateway g(w, 1);
  for (int i = 0; i < 50000; ++i) g.step(s, i);  // reach steady state
  std::int64_t t = 50000;
  for (auto _ : st) g.step(s, t++);
  st.SetItemsProcessed(st.iterations());
}
void BM_EventThroughputBloat(benchmark::State& st) {
  const auto w = workload(8 * 1024, 16 * 1024);
  auto s = std::make_unique<BotState>(20, 10, CacheLimits::unlimited());
  SyntheticGateway g(w, 1);
  std::int64_t t = 0;
  for (auto _ : st) {
    g.step(*s, t++);
    if ((t & 0x3fff) == 0 && rss() > kTargetRss) {  // keep the benchmark's footprint bounded
      st.PauseTiming();
      s = std::make_unique<BotState>(20, 10, CacheLimits::unlimited());
      client::trimHeap();
      st.ResumeTiming();
    }
  }
  st.SetItemsProcessed(st.iterations());
}

#define ACTION_BENCH(fn) BENCHMARK(fn)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond)
ACTION_BENCH(BM_TrimFullHeap)->ArgName("heap_layout")->Arg(0)->Arg(1);
ACTION_BENCH(BM_TrimAfterEviction)->ArgName("heap_layout")->Arg(0)->Arg(1);
ACTION_BENCH(BM_Sweep)->ArgNames({"heap_layout", "urgency"})->ArgsProduct({{0, 1}, {0, 1, 2, 3}});
ACTION_BENCH(BM_Compact)->ArgName("heap_layout")->Arg(0)->Arg(1);
BENCHMARK(BM_EventThroughputSeedLimits);
BENCHMARK(BM_EventThroughputBloat);

}  // namespace
