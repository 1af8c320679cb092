// The typed, validated memvisord configuration: daemon settings and one BotConfig per
// supervised bot. Built only by load.hpp (YAML -> plain data -> validation); immutable after.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memvisor/actions.hpp"
#include "memvisor/config/units.hpp"

namespace memvisor::config {

// The actions and their ladder come from the one table in memvisor/actions.hpp.
using memvisor::ActionKind;
using memvisor::kActionKinds;
using memvisor::ladderOf;
using memvisor::nextActionUp;
const char* toString(ActionKind a);  // the table's name
std::optional<ActionKind> parseActionKind(std::string_view s);

enum class Metric { kRss, kPss, kWorkingSet, kCgroup };
const char* toString(Metric m);  // rss | pss | working_set | cgroup
std::optional<Metric> parseMetric(std::string_view s);

// "for:" of a threshold: the condition must hold this long, or for this many consecutive
// samples (monit's "for 2 cycles"). Both zero: the first sample at or above fires.
struct Sustain {
  Duration duration{0};
  int samples = 0;
  bool operator==(const Sustain&) const = default;
};

struct Threshold {
  SizeSpec at;  // percent of the limit (1%..100%) or an absolute size
  ActionKind action = ActionKind::kTrim;
  Sustain sustain;
  // Minimum time between two runs of this action for this threshold, and how long memvisord
  // waits after acting before escalating if the figure is still at or above `at`.
  Duration cooldown{std::chrono::seconds(60)};
  // An action that frees less than this counts as ineffective and escalates. 0 = any.
  Bytes min_freed = 0;
  bool operator==(const Threshold&) const = default;
};

struct PeriodicAction {  // housekeeping, e.g. the seed's "trim every 15 minutes"
  ActionKind action = ActionKind::kTrim;
  Duration every{std::chrono::minutes(15)};
  std::optional<SizeSpec> above;  // only when the figure is at least this
  bool operator==(const PeriodicAction&) const = default;
};

struct Predictive {  // act early when the limit is less than `horizon` away at current growth
  Duration horizon{std::chrono::seconds(120)};
  Duration window{std::chrono::seconds(60)};  // growth rate = least squares over this window
  ActionKind action = ActionKind::kSweep;     // first action; repeated prediction escalates
  Duration cooldown{std::chrono::seconds(60)};
  bool operator==(const Predictive&) const = default;
};

struct Escalation {
  bool enabled = true;
  ActionKind max_action = ActionKind::kRestart;  // escalation never goes above this
  bool operator==(const Escalation&) const = default;
};

// How long the bot has to answer each command (then: failed, escalate), one per action of
// the table with a deadline key (restart's is the protocol `shutdown` before the stop signal).
struct Deadlines {
  std::array<Duration, kActionKinds> by_action = defaults();
  Duration forAction(ActionKind a) const { return by_action[memvisor::actionIndex(a)]; }
  Duration& operator[](ActionKind a) { return by_action[memvisor::actionIndex(a)]; }
  Duration shutdown() const { return forAction(ActionKind::kRestart); }
  static std::array<Duration, kActionKinds> defaults();
  bool operator==(const Deadlines&) const = default;
};

// Everything the pure policy needs for one bot (policy::BotPolicy is this type). `limit`
// may be overridden at run time by copying this struct (memvisorctl limit).
struct PolicyConfig {
  Bytes limit = 0;
  Metric metric = Metric::kRss;
  std::vector<Threshold> thresholds;  // sorted by resolved `at`, ascending
  SizeSpec hysteresis = SizeSpec::percentOf(5);  // re-arm below at - hysteresis
  Escalation escalation;
  std::vector<PeriodicAction> periodic;
  std::optional<Predictive> predictive;
  Duration startup_grace{std::chrono::seconds(60)};  // no restart (but other actions) while starting
  std::optional<SizeSpec> hard_ceiling;  // restart at once, even in grace; above every threshold
  Deadlines deadlines;
  Duration poll_min{std::chrono::milliseconds(10)};  // a sample costs ~1-10 µs (statm, usage)
  Duration poll_max{std::chrono::seconds(5)};
  // Worst-case growth the sampling schedule assumes (bytes per second): the next sample is due
  // when the bot could first reach the next figure at which the policy decides something.
  // 256 MiB/s: above the 200 MiB/s at which the reaction targets are set (README,
  // "Performance"), and a quarter of the samples 1 GiB/s costs: an idle bot far from its
  // limit is sampled about once a second instead of four times, which is what a thousand
  // polled bots cost. Faster growers set it higher; kernel thresholds need no such bound.
  Bytes max_growth = 256 * kMiB;
  bool operator==(const PolicyConfig&) const = default;
};

struct SpawnSpec {
  std::vector<std::string> command;          // argv, argv[0] looked up in PATH
  // The profile's seed variables, then the bot's (a bot's `NAME:` with no value drops one);
  // MEMORY_LIMIT_MB = the limit in MiB unless given, so the bot's own monitor agrees.
  std::map<std::string, std::string> env;
  std::string cwd;                           // empty = memvisord's
  std::string user;                          // name or numeric uid; empty = memvisord's
  // Put the bot in a memory cgroup of its own under memvisord's (when permitted), even without
  // a kernel limit: its threshold notifications wake memvisord within a millisecond.
  bool own_cgroup = true;
  bool operator==(const SpawnSpec&) const = default;
};

enum class AttachBy { kPidfile, kCmdline, kConnect };
const char* toString(AttachBy a);  // pidfile | cmdline | connect

struct AttachSpec {
  AttachBy by = AttachBy::kConnect;
  std::string pidfile;          // by pidfile
  std::string cmdline_pattern;  // by cmdline: ECMAScript regex over /proc/PID/cmdline (spaces)
  std::optional<std::uint32_t> uid;  // by connect: the uid allowed to connect as this bot
  // How to restart what memvisord did not start; empty = memvisord never restarts it
  // (a restart decision is journalled and the bot is only asked to `shutdown` if
  // allow_shutdown is set).
  std::vector<std::string> restart_command;
  bool allow_shutdown = false;
  bool operator==(const AttachSpec&) const = default;
};

enum class Mode { kSpawn, kAttach };

struct RestartPolicy {  // spawn mode: restart on exit, capped exponential backoff
  Duration backoff_initial{std::chrono::seconds(1)};
  Duration backoff_max{std::chrono::seconds(60)};
  int start_retries = 5;  // consecutive failed starts before FATAL (supervisord startretries)
  Duration start_seconds{std::chrono::seconds(10)};  // a run shorter than this is a failed start
  bool operator==(const RestartPolicy&) const = default;
};

// Liveness: memvisord pings the bot; a bot whose event loop is stuck answers nothing, serves
// no user and, below its memory limit, would otherwise go unnoticed.
enum class OnHung { kJournal, kRestart };
const char* toString(OnHung o);  // journal | restart
struct Liveness {
  bool enabled = true;
  Duration every{std::chrono::seconds(10)};    // one ping this often while connected
  Duration deadline{std::chrono::seconds(5)};  // a pong later than this is a miss
  int misses = 3;                              // misses in a row that make the bot hung
  OnHung on_hung = OnHung::kRestart;           // restart = the graceful path, then signals
  // Event-loop lag (from the bot's stats) above `max_lag` for `lag_for` also makes it hung.
  std::optional<Duration> max_lag;
  Duration lag_for{std::chrono::seconds(30)};
  bool operator==(const Liveness&) const = default;
};

// The seed's memory monitor, as memvisord's: a journal line every `log_every` with the
// bot's own figures, and an alert at `alert_at` of the limit that re-arms only below
// alert_at - alert_hysteresis, so a bot hovering at the line does not flood the journal.
struct Monitor {
  Duration log_every{0};  // 0 = off; default MEMORY_LOG_INTERVAL_SECONDS of the bot's env
  std::optional<SizeSpec> alert_at = SizeSpec::percentOf(80);  // absent = no alert
  SizeSpec alert_hysteresis = SizeSpec::percentOf(5);
  int stale_after = 3;  // stats intervals without a `stats` before its figures are stale
  bool operator==(const Monitor&) const = default;
};

struct BotConfig {
  std::string name;
  std::string profile;  // empty = none
  Mode mode = Mode::kSpawn;
  SpawnSpec spawn;    // when mode == kSpawn
  AttachSpec attach;  // when mode == kAttach
  PolicyConfig policy;
  int stop_signal = 15;  // SIGTERM
  Duration stop_timeout{std::chrono::seconds(10)};  // stop signal -> SIGKILL
  RestartPolicy restart;
  // Where memvisord owns the cgroup: kernel limit = policy.limit + margin (v1
  // memory.limit_in_bytes, v2 memory.max; memory.high = limit). Absent = leave it alone.
  std::optional<SizeSpec> kernel_limit_margin;
  Duration stats_interval{std::chrono::seconds(5)};  // Welcome.stats_interval_ms
  Liveness liveness;
  Monitor monitor;
  bool operator==(const BotConfig&) const = default;
};

// How journal lines are written (the daemon hands it to the journal as journal::Format).
enum class JournalFormat { kLogfmt, kJson };

struct JournalConfig {
  JournalFormat format = JournalFormat::kLogfmt;
  std::string file;  // empty = no file
  Bytes max_size = 10 * kMiB;
  int keep = 3;
  bool operator==(const JournalConfig&) const = default;
};

struct DaemonConfig {
  std::string bot_socket = "/run/memvisor/bot.sock";
  std::string control_socket = "/run/memvisor/ctl.sock";
  // Absent: derived from who is allowed (controlSocketAccess), 0600 when nobody else is.
  std::optional<std::uint32_t> control_mode;
  std::vector<std::uint32_t> allowed_uids;  // besides root and memvisord's own uid
  std::vector<std::uint32_t> allowed_gids;
  JournalConfig journal;
  std::string metrics_listen;  // "127.0.0.1:9464"; empty = no metrics endpoint
  // Counters kept across memvisord's restarts (restarts, OOM kills, actions, freed bytes);
  // empty = none, counting starts at 0 at every start.
  std::string state_file;
  bool operator==(const DaemonConfig&) const = default;
};

// The control socket's file mode and group. The filesystem is the first gate, SO_PEERCRED
// the second (PROTOCOL.md 1): with nobody else allowed the socket is 0600; with exactly one
// allowed gid and no extra uid it is 0660 and belongs to that group; any other set of
// allowed peers needs 0666 so that they can reach the SO_PEERCRED check at all. An explicit
// control_mode always wins.
struct ControlSocketAccess {
  std::uint32_t mode = 0600;
  std::optional<std::uint32_t> gid;  // chown the socket to this group
};
ControlSocketAccess controlSocketAccess(const DaemonConfig& d);

struct Config {
  std::string source;  // file name (or the name given to loadConfigString)
  DaemonConfig daemon;
  std::vector<BotConfig> bots;  // names unique, in file order

  const BotConfig* findBot(std::string_view name) const;
  bool operator==(const Config&) const = default;
};

}  // namespace memvisor::config
