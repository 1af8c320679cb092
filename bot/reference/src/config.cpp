#include "config.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>

namespace memvisor::bot {

namespace {

void standard(BotConfig&) {}
void ultra(BotConfig& c) {
  c.messages_limit = 10;
  c.members_limit = 25;
  c.sweep_messages_interval_s = 120;
  c.sweep_messages_lifetime_s = 300;
  c.memory_log_interval_s = 60;
}
void mem(BotConfig& c) { c.memory_log_interval_s = 120; }
void optimized(BotConfig& c) {
  c.memory_log_interval_s = 120;
  c.optimizer = true;
}
void prod(BotConfig& c) {
  c.memory_log_interval_s = 120;
  c.memory_limit_mb = 384;
}
void prodOptimized(BotConfig& c) {
  c.memory_log_interval_s = 120;
  c.memory_limit_mb = 512;
  c.optimizer = true;
}

std::string quoted(std::string_view v) { return "'" + std::string(v) + "'"; }

struct Collector {
  std::vector<std::string> errors;
  void add(std::string e) { errors.push_back(std::move(e)); }
};

void readInt(const EnvLookup& env, const char* name, std::int64_t lo, std::int64_t hi, std::int64_t& out,
             Collector& col) {
  auto v = env(name);
  if (!v) return;
  std::int64_t x = 0;
  const char* b = v->data();
  const char* e = v->data() + v->size();
  auto [p, ec] = std::from_chars(b, e, x);
  if (v->empty() || ec != std::errc() || p != e || x < lo || x > hi) {
    col.add(std::string(name) + ": expected an integer " + std::to_string(lo) + ".." + std::to_string(hi) +
            ", got " + quoted(*v));
    return;
  }
  out = x;
}

void readBool(const EnvLookup& env, const char* name, bool& out, Collector& col) {
  auto v = env(name);
  if (!v) return;
  std::string s;
  for (char c : *v) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "true" || s == "1" || s == "yes" || s == "on") {
    out = true;
  } else if (s == "false" || s == "0" || s == "no" || s == "off" || s.empty()) {
    out = false;
  } else {
    col.add(std::string(name) + ": expected true or false, got " + quoted(*v));
  }
}

}  // namespace

const std::vector<Profile>& profiles() {
  static const std::vector<Profile> kProfiles = {
      {"standard", "npm run dev", "seed defaults: 50 messages/channel, 100 members/guild, sweep 300s/900s, monitor off", standard},
      {"ultra", "npm run dev:ultra", "10 messages, 25 members, sweep every 120s (lifetime 300s), monitor every 60s", ultra},
      {"mem", "npm run dev:mem", "standard + memory monitor every 120s", mem},
      {"optimized", "npm run dev:optimized", "standard + monitor 120s + memory optimizer", optimized},
      {"prod", "npm run start:prod", "standard, 384 MB limit, monitor 120s", prod},
      {"prod-optimized", "npm run start:prod-optimized", "512 MB limit, monitor 120s, memory optimizer", prodOptimized},
  };
  return kProfiles;
}

EnvLookup processEnv() {
  return [](const char* name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name)) return std::string(v);
    return std::nullopt;
  };
}

Result<BotConfig> loadBotConfig(std::optional<std::string> profile_flag, const EnvLookup& env) {
  Collector col;
  BotConfig c;
  std::string profile_source = "--profile";
  if (!profile_flag) {
    profile_flag = env("BOT_PROFILE");
    profile_source = "BOT_PROFILE";
  }
  if (profile_flag) {
    const Profile* found = nullptr;
    for (const auto& p : profiles()) {
      if (*profile_flag == p.name) found = &p;
    }
    if (found) {
      found->apply(c);
      c.profile = found->name;
    } else {
      std::string names;
      for (const auto& p : profiles()) names += (names.empty() ? "" : ", ") + std::string(p.name);
      col.add(profile_source + ": expected one of " + names + ", got " + quoted(*profile_flag));
    }
  }
  readInt(env, "CACHE_MESSAGES_LIMIT", 0, 100000, c.messages_limit, col);
  readInt(env, "CACHE_MEMBERS_LIMIT", 0, 10000000, c.members_limit, col);
  readInt(env, "SWEEP_MESSAGES_INTERVAL_SECONDS", 1, 86400, c.sweep_messages_interval_s, col);
  readInt(env, "SWEEP_MESSAGES_LIFETIME_SECONDS", 1, 30LL * 86400, c.sweep_messages_lifetime_s, col);
  readInt(env, "MEMORY_LOG_INTERVAL_SECONDS", 0, 86400, c.memory_log_interval_s, col);
  readInt(env, "MEMORY_LIMIT_MB", 16, 1 << 20, c.memory_limit_mb, col);
  readBool(env, "ENABLE_MEMORY_OPTIMIZER", c.optimizer, col);
  readInt(env, "MEMORY_OPTIMIZER_INTERVAL_SECONDS", 1, 86400, c.optimizer_interval_s, col);
  readInt(env, "MEMORY_OPTIMIZER_THRESHOLD_MB", 1, 1 << 20, c.optimizer_threshold_mb, col);
  if (!col.errors.empty()) {
    std::string msg;
    for (const auto& e : col.errors) msg += (msg.empty() ? "" : "\n") + e;
    return Error{"bad_config", msg};
  }
  return c;
}

Result<void> validateWorkload(const WorkloadConfig& w) {
  std::vector<std::string> errors;
  if (w.body_min > w.body_max) {
    errors.push_back("--body-min (" + std::to_string(w.body_min) + ") must be <= --body-max (" +
                     std::to_string(w.body_max) + ")");
  }
  if (w.fragment && w.fragment_block * 9 > w.fragment_bytes) {
    errors.push_back("--fragment-size must hold at least 9 blocks of --fragment-block");
  }
  if (w.hang && w.ignore_commands) errors.push_back("--hang and --ignore-commands exclude each other");
  if (w.spike_bytes > 0 && w.spike_hold_s >= w.spike_interval_s) {
    errors.push_back("--spike-hold must be shorter than --spike-interval");
  }
  if (w.hang_after_s > 0 && !w.hang) errors.push_back("--hang-after needs --hang");
  if (errors.empty()) return okResult();
  std::string msg;
  for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
  return Error{"bad_config", msg};
}

Result<std::int64_t> parseSize(std::string_view text) {
  std::int64_t n = 0;
  const char* b = text.data();
  const char* e = text.data() + text.size();
  auto [p, ec] = std::from_chars(b, e, n);
  if (text.empty() || ec != std::errc() || n < 0) {
    return Error{"bad_size", "expected a size like 64MiB or 4096, got " + quoted(text)};
  }
  std::string unit;
  for (const char* q = p; q < e; ++q) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(*q)));
  std::int64_t mult = 0;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kib" || unit == "kb") mult = 1LL << 10;
  else if (unit == "m" || unit == "mib" || unit == "mb") mult = 1LL << 20;
  else if (unit == "g" || unit == "gib" || unit == "gb") mult = 1LL << 30;
  if (mult == 0) return Error{"bad_size", "unknown unit in " + quoted(text) + " (use B, KiB, MiB or GiB)"};
  if (n > (std::int64_t{1} << 50) / mult) return Error{"bad_size", "size " + quoted(text) + " is too large"};
  return n * mult;
}

}  // namespace memvisor::bot
