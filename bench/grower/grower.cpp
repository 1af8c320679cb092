// memvisor-grower: a process that idles, then grows its RSS at a fixed rate towards a ceiling,
// and records when it crossed a limit and when memvisord first reached it (an action request
// over the bot socket with --protocol, or the stop signal without). The reaction benchmark
// (bench/reaction.py) and the detection integration tests drive it; it is not a bot.
//
//   memvisor-grower --rate MiB/s --limit MiB --ceiling MiB --result FILE
//                   [--base MiB] [--idle-ms N] [--protocol] [--name NAME]
//
// Result (one JSON line, written once, at the first reaction or at the ceiling):
//   {"kind":"compact"|"trim"|"sweep"|"signal"|"ceiling", "cross_ns":..., "react_ns":...,
//    "rss_at_react":..., "peak_rss":..., "limit":...}
// Times are CLOCK_MONOTONIC; reaction = react_ns - cross_ns; cross_ns = 0 if never crossed.
// The crossing is this process's own RSS (statm) reaching --limit, which is what memvisord
// measures for it. After an action request it frees what it grew and idles; on SIGTERM it
// exits.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "memvisor/client/background_client.hpp"

namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;

std::int64_t monoNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::atomic<std::int64_t> g_signal_ns{0};
void onSigterm(int) { g_signal_ns.store(monoNs()); }

class Rss {
 public:
  Rss() : fd_(::open("/proc/self/statm", O_RDONLY | O_CLOEXEC)), page_(::sysconf(_SC_PAGESIZE)) {}
  ~Rss() { ::close(fd_); }
  std::uint64_t bytes() const {
    char buf[128];
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = 0;
    const char* p = std::strchr(buf, ' ');
    if (!p) return 0;
    std::uint64_t pages = 0;
    std::from_chars(p + 1, buf + n, pages);
    return pages * static_cast<std::uint64_t>(page_);
  }

 private:
  int fd_;
  long page_;
};

struct Options {
  double rate_mib_s = 200;
  std::uint64_t limit = 0;
  std::uint64_t ceiling = 0;
  std::uint64_t base = 8 * kMiB;
  long idle_ms = 0;
  bool protocol = false;
  std::string result;
  std::string name = "grower";
};

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--protocol") {
      o.protocol = true;
      continue;
    }
    const char* v = next();
    if (!v) return false;
    if (a == "--rate") o.rate_mib_s = std::atof(v);
    else if (a == "--limit") o.limit = static_cast<std::uint64_t>(std::atof(v) * kMiB);
    else if (a == "--ceiling") o.ceiling = static_cast<std::uint64_t>(std::atof(v) * kMiB);
    else if (a == "--base") o.base = static_cast<std::uint64_t>(std::atof(v) * kMiB);
    else if (a == "--idle-ms") o.idle_ms = std::atol(v);
    else if (a == "--result") o.result = v;
    else if (a == "--name") o.name = v;
    else return false;
  }
  return o.limit > 0 && o.ceiling > o.limit && !o.result.empty() && o.rate_mib_s > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: memvisor-grower --rate MiB/s --limit MiB --ceiling MiB --result FILE "
                 "[--base MiB] [--idle-ms N] [--protocol] [--name NAME]\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = onSigterm;
  ::sigaction(SIGTERM, &sa, nullptr);

  Rss rss;
  const std::size_t span = o.ceiling;
  auto* mem = static_cast<char*>(
      ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (mem == MAP_FAILED) return 1;
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

  std::atomic<std::int64_t> action_ns{0};
  std::atomic<std::uint64_t> action_rss{0};
  std::mutex kind_mutex;
  std::string action_kind;
  std::unique_ptr<memvisor::client::BackgroundClient> bg;
  if (o.protocol) {
    memvisor::client::ClientOptions co;
    co.name = o.name;
    bg = std::make_unique<memvisor::client::BackgroundClient>(co);
    for (auto a : {memvisor::proto::Action::kTrim, memvisor::proto::Action::kSweep,
                   memvisor::proto::Action::kCompact}) {
      bg->client().onAction(
          a, memvisor::client::syncHandler([&, a](const memvisor::proto::ActionRequest&) {
            std::int64_t zero = 0;
            if (action_ns.compare_exchange_strong(zero, monoNs())) {
              action_rss.store(rss.bytes());
              std::lock_guard lock(kind_mutex);
              action_kind = memvisor::proto::toString(a);
            }
            return memvisor::client::ActionOutcome{};
          }));
    }
    // A shutdown request ends it like the stop signal would, without waiting for the signal.
    bg->client().onShutdown([](const memvisor::proto::Shutdown&,
                               memvisor::client::ShutdownAccept accept) {
      accept(true);
      g_signal_ns.store(monoNs());
    });
    bg->start();
  }

  // The base, then the idle phase (a random phase of memvisord's schedule).
  std::size_t touched = 0;
  for (; touched < o.base && touched < span; touched += page) mem[touched] = 1;
  const std::int64_t idle_until = monoNs() + o.idle_ms * 1'000'000;
  while (monoNs() < idle_until && g_signal_ns.load() == 0) ::usleep(1000);

  std::int64_t cross_ns = 0;
  std::uint64_t peak = rss.bytes();
  const std::int64_t t0 = monoNs();
  const std::size_t start = touched;
  const double bytes_per_ns = o.rate_mib_s * static_cast<double>(kMiB) / 1e9;
  std::string kind;
  std::int64_t react_ns = 0;
  std::uint64_t rss_at_react = 0;
  for (;;) {
    if (const auto s = g_signal_ns.load(); s != 0) {
      kind = "signal";
      react_ns = s;
      rss_at_react = rss.bytes();
      break;
    }
    if (const auto a = action_ns.load(); a != 0) {
      std::lock_guard lock(kind_mutex);
      kind = action_kind;
      react_ns = a;
      rss_at_react = action_rss.load();
      break;
    }
    const std::size_t goal =
        start + static_cast<std::size_t>(bytes_per_ns * static_cast<double>(monoNs() - t0));
    const std::size_t stop = std::min(goal, span);
    // Touch in 64 KiB steps, checking the crossing as we go.
    while (touched < stop) {
      const std::size_t step_end = std::min(stop, touched + 64 * 1024);
      for (; touched < step_end; touched += page) mem[touched] = 1;
      const std::uint64_t now_rss = rss.bytes();
      peak = std::max(peak, now_rss);
      if (cross_ns == 0 && now_rss >= o.limit) cross_ns = monoNs();
    }
    if (touched >= span) {
      kind = "ceiling";
      react_ns = monoNs();
      rss_at_react = rss.bytes();
      break;
    }
    ::usleep(200);
  }
  peak = std::max(peak, rss.bytes());
  if (FILE* f = std::fopen(o.result.c_str(), "w")) {
    std::fprintf(f,
                 "{\"kind\":\"%s\",\"cross_ns\":%lld,\"react_ns\":%lld,\"rss_at_react\":%llu,"
                 "\"peak_rss\":%llu,\"limit\":%llu,\"pid\":%d}\n",
                 kind.c_str(), static_cast<long long>(cross_ns), static_cast<long long>(react_ns),
                 static_cast<unsigned long long>(rss_at_react),
                 static_cast<unsigned long long>(peak),
                 static_cast<unsigned long long>(o.limit), static_cast<int>(::getpid()));
    std::fclose(f);
  }
  // The stop signal ends it at once (no orderly client shutdown to wait for: nothing to keep).
  if (kind == "signal") ::_exit(0);
  // Cooperate: give back what was grown, then idle until memvisord or the driver stops us.
  ::madvise(mem, span, MADV_DONTNEED);
  while (g_signal_ns.load() == 0) ::usleep(10'000);
  ::_exit(0);
}
