// memvisord: the memory supervisor daemon. Parses the command line; everything else is in
// memvisor_daemon (daemon_app.hpp).
#include <CLI/CLI.hpp>
#include <iostream>

#include "memvisor/config/keys.hpp"
#include "memvisor/daemon/daemon_app.hpp"

int main(int argc, char** argv) {
  using namespace memvisor;
  CLI::App app{
      "memvisord: keeps long-running bots under their memory limit with graded actions\n"
      "(trim, sweep, compact) over a Unix-socket protocol; restart is the last resort.",
      "memvisord"};
  app.footer(
      "Signals: SIGTERM/SIGINT stop the bots memvisord started and exit (a second one kills\n"
      "them at once); SIGHUP reloads the config (a bad file is refused, the old one keeps "
      "running).\n"
      "Exit status: 0 clean stop or valid config; 1 runtime failure; 2 usage error;\n"
      "3 invalid config; 4 start-up self-check failed (proc, sockets, bot commands).");
  std::string config_path;
  std::string check_path;
  std::string log_format;
  bool version = false;
  auto* config_opt = app.add_option("-c,--config", config_path, "config file (YAML)");
  auto* check_opt = app.add_option("--check-config", check_path,
                                   "validate FILE, explain what memvisord would do, and exit");
  check_opt->excludes(config_opt);
  app.add_option("--log-format", log_format, "journal lines on stderr: logfmt (default) or json")
      ->check(CLI::IsMember({"logfmt", "json"}));
  bool reference = false;
  app.add_flag("--config-reference", reference,
               "print the configuration reference (deploy/CONFIG.md) and exit");
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return daemon::kExitUsage;
  }
  if (version) {
    std::cout << "memvisord 0.1.0\n";
    return daemon::kExitOk;
  }
  if (reference) {
    std::cout << config::configReference();
    return daemon::kExitOk;
  }
  if (!check_path.empty()) return daemon::checkConfig(check_path, std::cout, std::cerr);
  if (config_path.empty()) {
    std::cerr << "Error: --config FILE is required (or --check-config FILE)\n" << app.help();
    return daemon::kExitUsage;
  }
  daemon::DaemonOptions options;
  options.config_path = config_path;
  if (log_format == "json") options.log_format = journal::Format::kJson;
  if (log_format == "logfmt") options.log_format = journal::Format::kLogfmt;
  try {
    return daemon::runDaemon(options);
  } catch (const std::exception& e) {
    std::cerr << "memvisord: fatal: " << e.what() << "\n";
    return daemon::kExitRuntime;
  }
}
