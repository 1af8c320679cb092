// memvisord as a program: load-and-validate (shared by --check-config and start-up), the
// start-up self-check, and the run loop (one io_context, one thread; signals: SIGTERM and
// SIGINT stop, a second one kills; SIGHUP reloads; SIGCHLD reaps). memvisord/main.cpp only
// parses the command line and calls these.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "memvisor/config/config.hpp"
#include "memvisor/journal/journal.hpp"
#include "memvisor/result.hpp"
#include "memvisor/sampling/sys_paths.hpp"

namespace memvisor::daemon {

// memvisord's exit statuses (documented in deploy/README.md and --help).
enum ExitCode : int {
  kExitOk = 0,         // clean shutdown (SIGTERM/SIGINT), or --check-config: valid
  kExitRuntime = 1,    // an unexpected failure while running
  kExitUsage = 2,      // bad command line
  kExitBadConfig = 3,  // the config file is invalid or unreadable
  kExitSelfCheck = 4,  // start-up self-check failed (proc, sockets, bot commands)
};

// The one load-and-validate path: the YAML loader plus the checks that need the machine's
// view of it (socket path lengths). Errors: file:line:column: key: message lines.
Result<config::Config> loadAndValidate(const std::string& path);

// --check-config: explanation on `out` and exit 0, or the errors on `err` and exit 3.
int checkConfig(const std::string& path, std::ostream& out, std::ostream& err);

// Problems that would make memvisord useless on this machine; empty when all is well.
// Warnings (not fatal) go to `warnings`.
std::vector<std::string> selfCheck(const config::Config& config, const sampling::SysPaths& paths,
                                   std::vector<std::string>* warnings);

struct DaemonOptions {
  std::string config_path;
  std::optional<journal::Format> log_format;  // overrides journal.format of the file
  sampling::SysPaths paths;
};

// Runs until SIGTERM/SIGINT; returns an ExitCode.
int runDaemon(const DaemonOptions& options);

}  // namespace memvisor::daemon
