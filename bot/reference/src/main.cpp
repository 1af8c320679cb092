// memvisor-bot: the reference bot (a Discord-style bot's memory, no network). Parses the
// command line and environment, then runs the event loop. Exit: 0 ok, 2 usage/config error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "app.hpp"
#include "config.hpp"

namespace {

// CLI11 transform: "64MiB" -> "67108864", with the flag's name in the error.
CLI::Validator sizeValidator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        auto r = memvisor::bot::parseSize(s);
        if (!r) return r.error().message;
        s = std::to_string(*r);
        return {};
      },
      "SIZE", "size");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace memvisor::bot;
  CLI::App app{
      "memvisor-bot: a reference Discord-style bot (synthetic gateway, discord.js-like caches, the seed's\n"
      "sweepers, memory monitor and optimizer) that obeys memvisord's trim, sweep and compact.\n"
      "Environment: CACHE_MESSAGES_LIMIT CACHE_MEMBERS_LIMIT SWEEP_MESSAGES_INTERVAL_SECONDS\n"
      "SWEEP_MESSAGES_LIFETIME_SECONDS MEMORY_LOG_INTERVAL_SECONDS MEMORY_LIMIT_MB ENABLE_MEMORY_OPTIMIZER\n"
      "MEMORY_OPTIMIZER_INTERVAL_SECONDS MEMORY_OPTIMIZER_THRESHOLD_MB BOT_PROFILE MEMVISOR_SOCKET MEMVISOR_BOT_NAME",
      "memvisor-bot"};
  AppOptions o;
  WorkloadConfig& w = o.work;
  std::optional<std::string> profile;
  std::string profile_help = "run profile (env BOT_PROFILE):";
  for (const auto& p : profiles()) profile_help += std::string("\n  ") + p.name + ": " + p.summary;
  app.add_option("--profile", profile, profile_help);
  app.add_option("--socket", o.socket_path, "memvisord bot socket (default $MEMVISOR_SOCKET; none: standalone)");
  if (const char* n = std::getenv("MEMVISOR_BOT_NAME")) o.name = n;
  app.add_option("--name", o.name, "bot name sent to memvisord (env MEMVISOR_BOT_NAME)")->capture_default_str();
  app.add_option("--rate", w.rate, "gateway events per second")->check(CLI::Range(0.0, 1e7))->capture_default_str();
  app.add_option("--guilds", w.guilds, "guilds")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--channels", w.channels_per_guild, "text channels per guild")->check(CLI::Range(1, 10000))->capture_default_str();
  app.add_option("--body-min", w.body_min, "smallest message body, bytes")->transform(sizeValidator())->capture_default_str();
  app.add_option("--body-max", w.body_max, "largest message body, bytes (log-uniform in between; max 128KiB)")
      ->transform(sizeValidator())->check(CLI::Range(1, 128 * 1024))->capture_default_str();
  std::string layout = "segments";
  app.add_option("--payload-layout", layout,
                 "where message payloads live: segments (mmap'd, returned when empty) or heap (new[] each)")
      ->check(CLI::IsMember({"segments", "heap"}))
      ->capture_default_str();
  app.add_flag("--bloat", w.bloat, "cache limits and periodic sweepers off: caches grow without bound");
  app.add_option("--leak", w.leak_bytes_per_s, "retain RATE bytes per second outside any cache (e.g. 1MiB)")
      ->transform(sizeValidator());
  app.add_option("--spike", w.spike_bytes, "every --spike-interval, hold SIZE more heap for --spike-hold")
      ->transform(sizeValidator());
  app.add_option("--spike-interval", w.spike_interval_s, "seconds between spikes")->check(CLI::Range(0.1, 86400.0))->capture_default_str();
  app.add_option("--spike-hold", w.spike_hold_s, "seconds a spike is held")->check(CLI::Range(0.0, 86400.0))->capture_default_str();
  app.add_flag("--fragment", w.fragment, "at start, leave a fragmented heap that malloc_trim can give back");
  app.add_option("--fragment-size", w.fragment_bytes, "bytes of blocks freed by --fragment")->transform(sizeValidator())->capture_default_str();
  app.add_option("--fragment-block", w.fragment_block, "block size of --fragment (256 gives nothing back)")
      ->transform(sizeValidator())->check(CLI::Range(16, 1 << 20))->capture_default_str();
  app.add_flag("--hang", w.hang, "block the event loop forever at the first command (or after --hang-after)");
  app.add_option("--hang-after", w.hang_after_s, "with --hang: block after this many seconds instead")->check(CLI::Range(0.0, 86400.0));
  app.add_flag("--ignore-commands", w.ignore_commands, "never answer trim/sweep/compact/shutdown (pings and stats go on)");
  app.add_option("--seed", w.seed, "random seed of the synthetic gateway")->capture_default_str();
  app.add_option("--duration", w.duration_s, "exit after this many seconds (0: run until signalled)")->check(CLI::Range(0.0, 1e9));
  app.add_option("--progress-interval", w.progress_interval_s, "seconds between progress lines (0: off)")
      ->check(CLI::Range(0.0, 86400.0))->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "memvisor-bot: error: %s\nRun with --help for usage.\n", e.what());
    return 2;
  }
  w.layout = layout == "heap" ? PayloadLayout::kHeap : PayloadLayout::kSegments;
  auto cfg = loadBotConfig(profile, processEnv());
  if (!cfg) {
    std::fprintf(stderr, "memvisor-bot: configuration error:\n%s\n", cfg.error().message.c_str());
    return 2;
  }
  o.bot = *cfg;
  if (auto v = validateWorkload(w); !v) {
    std::fprintf(stderr, "memvisor-bot: error: %s\n", v.error().message.c_str());
    return 2;
  }
  return runBot(std::move(o));
}
