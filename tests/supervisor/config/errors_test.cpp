// Every class of config error: its message, its file:line:column and its path; and all
// errors of a file collected at once.
#include <gtest/gtest.h>

#include <ostream>

#include "memvisor/config/load.hpp"

namespace memvisor::config {
namespace {

// A bot with everything required, so each case adds exactly one problem.
std::string bot(const std::string& extra) {
  return "bots:\n  - name: amayo\n    profile: prod\n    spawn: {command: [node, index.js]}\n" + extra;
}

struct ErrorCase {
  const char* what;
  std::string yaml;
  std::string expected;  // the whole error line; a trailing '*' matches any rest (libc text)
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.what; }

class ConfigErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrors, ReportsPositionPathAndMessage) {
  const auto& c = GetParam();
  auto r = loadConfigString(c.yaml, "memvisor.yaml");
  ASSERT_FALSE(r.ok()) << c.what << ": accepted";
  EXPECT_EQ(r.error().code, "bad_config");
  const auto lines = errorLines(r.error());
  ASSERT_EQ(lines.size(), 1u) << c.what << ":\n" << r.error().message;
  if (!c.expected.empty() && c.expected.back() == '*') {
    const std::string prefix = c.expected.substr(0, c.expected.size() - 1);
    EXPECT_EQ(lines[0].substr(0, prefix.size()), prefix) << c.what;
  } else {
    EXPECT_EQ(lines[0], c.expected) << c.what;
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryClass, ConfigErrors,
    ::testing::Values(
        ErrorCase{"yaml syntax", "bots: [\n  - name: x\n", "memvisor.yaml:2:3: YAML syntax error: illegal block entry"},
        ErrorCase{"empty file", "", "memvisor.yaml:1:1: the file is empty: expected `bots:` (and optionally `daemon:`)"},
        ErrorCase{"unknown top key", "deamon: {}\n" + bot(""),
                  "memvisor.yaml:1:1: deamon: unknown key 'deamon' (did you mean 'daemon'?)"},
        ErrorCase{"unknown bot key", bot("    tresholds: []\n"),
                  "memvisor.yaml:5:5: bots[0].tresholds: unknown key 'tresholds' (did you mean 'thresholds'?)"},
        ErrorCase{"unknown key without suggestion", bot("    colour: blue\n"),
                  "memvisor.yaml:5:5: bots[0].colour: unknown key 'colour'"},
        ErrorCase{"duplicate key", bot("    limit: 300MiB\n    limit: 400MiB\n"),
                  "memvisor.yaml:6:5: bots[0].limit: key given twice"},
        ErrorCase{"bare number size (PM2 trap)", bot("    limit: 300\n"),
                  "memvisor.yaml:5:12: bots[0].limit: bare number 300 is not a size: write 300MiB "
                  "(or 300B if you really mean bytes; PM2's max_memory_restart: 300 means 300 bytes)"},
        ErrorCase{"percent where not allowed", bot("    limit: 80%\n"),
                  "memvisor.yaml:5:12: bots[0].limit: a percentage is not allowed here, got 80%: "
                  "write an absolute size like 384MiB"},
        ErrorCase{"bare number duration", bot("    startup_grace: 30\n"),
                  "memvisor.yaml:5:20: bots[0].startup_grace: bare number 30 is not a duration: "
                  "write 30s (seconds) or 30ms (milliseconds)"},
        ErrorCase{"threshold percent out of range",
                  bot("    thresholds:\n      - {at: 70%, action: trim}\n      - {at: 80%, action: sweep}\n"
                      "      - {at: 140%, action: compact}\n"),
                  "memvisor.yaml:8:14: bots[0].thresholds[2].at: must be 1%..100%, got 140%"},
        ErrorCase{"unknown action", bot("    thresholds:\n      - {at: 70%, action: trimm}\n"),
                  "memvisor.yaml:6:27: bots[0].thresholds[0].action: unknown action 'trimm', "
                  "expected trim|sweep|compact|restart|alert (did you mean 'trim'?)"},
        ErrorCase{"missing threshold action", bot("    thresholds:\n      - {at: 70%}\n"),
                  "memvisor.yaml:6:9: bots[0].thresholds[0].action: missing: trim|sweep|compact|restart|alert"},
        ErrorCase{"bare sustain count", bot("    thresholds:\n      - {at: 70%, action: trim, for: 2}\n"),
                  "memvisor.yaml:6:38: bots[0].thresholds[0].for: bare number 2 is ambiguous: "
                  "write '2 samples' or a duration like 2s"},
        ErrorCase{"threshold above the limit", bot("    thresholds:\n      - {at: 500MiB, action: trim}\n"),
                  "memvisor.yaml:6:14: bots[0].thresholds[0].at: must not exceed the limit (384 MiB), got 500 MiB"},
        ErrorCase{"two thresholds at one figure",
                  bot("    thresholds:\n      - {at: 50%, action: trim}\n      - {at: 192MiB, action: sweep}\n"),
                  "memvisor.yaml:7:14: bots[0].thresholds[1].at: two thresholds at the same figure (192 MiB)"},
        ErrorCase{"hard ceiling below a threshold", bot("    hard_ceiling: 350MiB\n"),
                  "memvisor.yaml:5:19: bots[0].hard_ceiling: must be above every threshold "
                  "(highest 384 MiB), got 350 MiB = 350 MiB"},
        ErrorCase{"kernel limit under the ceiling", bot("    kernel_limit_margin: 5%\n"),
                  "memvisor.yaml:5:26: bots[0].kernel_limit_margin: the kernel limit (403.2 MiB) must be "
                  "above the hard ceiling (422.4 MiB), or the kernel kills the bot before memvisord restarts it"},
        ErrorCase{"unknown profile", "bots:\n  - name: a\n    profile: prod-optimised\n    spawn: {command: [x]}\n",
                  "memvisor.yaml:3:14: bots[0].profile: unknown profile 'prod-optimised', expected "
                  "standard|ultra|prod|prod-optimized (did you mean 'prod-optimized'?)"},
        ErrorCase{"missing limit", "bots:\n  - name: a\n    spawn: {command: [x]}\n",
                  "memvisor.yaml:2:5: bots[0].limit: missing: give limit: (e.g. 384MiB) or a profile: that has one"},
        ErrorCase{"missing mode", "bots:\n  - name: a\n    profile: prod\n",
                  "memvisor.yaml:2:5: bots[0]: missing spawn: (memvisord starts the bot) or attach: "
                  "(it supervises a running one)"},
        ErrorCase{"both modes", bot("    attach: {connect: true}\n"),
                  "memvisor.yaml:2:5: bots[0]: give either spawn: or attach:, not both"},
        ErrorCase{"command as a shell line", "bots:\n  - name: a\n    profile: prod\n    spawn: {command: node index.js}\n",
                  "memvisor.yaml:4:22: bots[0].spawn.command: must be a list (argv), not a shell line: "
                  "write [node, index.js]"},
        ErrorCase{"attach with two ways",
                  "bots:\n  - name: a\n    profile: prod\n    attach: {pidfile: /run/a.pid, cmdline: node}\n",
                  "memvisor.yaml:4:13: bots[0].attach: give exactly one of pidfile:, cmdline: or connect: true"},
        ErrorCase{"bad regex", "bots:\n  - name: a\n    profile: prod\n    attach: {cmdline: \"node (\"}\n",
                  "memvisor.yaml:4:23: bots[0].attach.cmdline: not a valid regular expression: *"},
        ErrorCase{"duplicate bot name", bot("  - name: amayo\n    profile: prod\n    spawn: {command: [x]}\n"),
                  "memvisor.yaml:5:11: bots[1].name: bot name 'amayo' already used at line 2"},
        ErrorCase{"bad bot name", "bots:\n  - name: all\n    profile: prod\n    spawn: {command: [x]}\n",
                  "memvisor.yaml:2:11: bots[0].name: must be 1-63 letters, digits, '_', '.', '-' (not 'all'), got 'all'"},
        ErrorCase{"wrong type", bot("    thresholds: {at: 80%}\n"),
                  "memvisor.yaml:5:17: bots[0].thresholds: expected a list of thresholds, got a map"},
        ErrorCase{"unknown metric", bot("    metric: rsss\n"),
                  "memvisor.yaml:5:13: bots[0].metric: unknown metric 'rsss', expected "
                  "rss|pss|working_set|cgroup (did you mean 'rss'?)"},
        ErrorCase{"poll min above max", bot("    poll: {min: 10s, max: 1s}\n"),
                  "memvisor.yaml:5:11: bots[0].poll: min (10s) must not exceed max (1s)"},
        ErrorCase{"duration out of range", bot("    deadlines: {trim: 20m}\n"),
                  "memvisor.yaml:5:23: bots[0].deadlines.trim: must be 1ms..10m, got 20m"},
        ErrorCase{"predictive restart", bot("    predictive: {action: restart}\n"),
                  "memvisor.yaml:5:26: bots[0].predictive.action: a prediction alone never restarts: "
                  "use trim, sweep, compact or alert"},
        ErrorCase{"bad stop signal", bot("    stop_signal: TERMINATE\n"),
                  "memvisor.yaml:5:18: bots[0].stop_signal: expected a signal name like SIGTERM or SIGINT, got 'TERMINATE'"},
        ErrorCase{"relative socket path", "daemon: {bot_socket: bot.sock}\n" + bot(""),
                  "memvisor.yaml:1:22: daemon.bot_socket: must be an absolute path, got 'bot.sock'"},
        ErrorCase{"bad control mode", "daemon: {control_mode: \"0999\"}\n" + bot(""),
                  "memvisor.yaml:1:24: daemon.control_mode: expected an octal mode like \"0660\", got '0999'"},
        ErrorCase{"bad journal format", "daemon: {journal: {format: jsn}}\n" + bot(""),
                  "memvisor.yaml:1:28: daemon.journal.format: expected logfmt or json, got 'jsn' (did you mean 'json'?)"},
        ErrorCase{"bad metrics address", "daemon: {metrics_listen: localhost}\n" + bot(""),
                  "memvisor.yaml:1:26: daemon.metrics_listen: expected host:port like 127.0.0.1:9464, got 'localhost'"},
        ErrorCase{"no bots", "bots: []\n", "memvisor.yaml:1:7: bots: at least one bot is required"},
        ErrorCase{"bad env name", "bots:\n  - name: a\n    profile: prod\n    spawn: {command: [x], env: {1BAD: x}}\n",
                  "memvisor.yaml:4:33: bots[0].spawn.env.1BAD: not a valid environment variable name"}));

TEST(ConfigErrorsAll, ListsProblemsInFileOrder) {
  // The unknown key (found first, by the key check) comes after the bad limit above it.
  auto r = loadConfigString(bot("    limit: 300\n    tresholds: []\n"), "o.yaml");
  ASSERT_FALSE(r.ok());
  const auto lines = errorLines(r.error());
  ASSERT_EQ(lines.size(), 2u) << r.error().message;
  EXPECT_EQ(lines[0].rfind("o.yaml:5:12: bots[0].limit", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("o.yaml:6:5: bots[0].tresholds", 0), 0u) << lines[1];
}

TEST(ConfigErrorsAll, CollectsEveryProblemBeforeFailing) {
  const std::string yaml = R"(daemon:
  bot_sockett: /run/x.sock
bots:
  - name: one
    limit: 300
    spawn: {command: [x]}
    thresholds:
      - {at: 140%, action: trim}
  - name: two
    profile: prod
    attach: {connect: true}
    startup_grace: 5
    metric: heap
)";
  auto r = loadConfigString(yaml, "multi.yaml");
  ASSERT_FALSE(r.ok());
  const auto lines = errorLines(r.error());
  ASSERT_EQ(lines.size(), 5u) << r.error().message;
  EXPECT_EQ(lines[0].rfind("multi.yaml:2:3: daemon.bot_sockett: unknown key", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("multi.yaml:5:12: bots[0].limit: bare number 300", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2], "multi.yaml:8:14: bots[0].thresholds[0].at: must be 1%..100%, got 140%");
  EXPECT_EQ(lines[3].rfind("multi.yaml:12:20: bots[1].startup_grace: bare number 5", 0), 0u) << lines[3];
  EXPECT_EQ(lines[4].rfind("multi.yaml:13:13: bots[1].metric: unknown metric 'heap'", 0), 0u) << lines[4];
}

}  // namespace
}  // namespace memvisor::config
