// The run loop of memvisord and the checks around it.
#include "memvisor/daemon/daemon_app.hpp"

#include <prometheus/exposer.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "memvisor/config/load.hpp"
#include "memvisor/config/node_heap.hpp"
#include "memvisor/config/units.hpp"
#include "memvisor/control/server.hpp"
#include "memvisor/daemon/child_reaper.hpp"
#include "memvisor/daemon/fd_limit.hpp"
#include "memvisor/detection/threshold_registrar.hpp"
#include "memvisor/daemon/metrics.hpp"
#include "memvisor/daemon/signaller.hpp"
#include "memvisor/daemon/supervisor.hpp"
#include "memvisor/sampling/process_files.hpp"

namespace memvisor::daemon {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

std::int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void record(journal::Journal& j, const std::string& kind, proto::Level level,
            const std::string& message, std::map<std::string, std::string> fields = {},
            const std::string& bot = "") {
  proto::JournalEntry e;
  e.ts_ms = wallMs();
  e.bot = bot;
  e.kind = kind;
  e.level = level;
  e.message = message;
  e.fields = std::move(fields);
  j.record(std::move(e));
}

// Is `argv0` something exec can run (absolute/relative path, or found in PATH)?
bool executable(const std::string& argv0, const std::string& cwd) {
  if (argv0.find('/') != std::string::npos) {
    const fs::path p =
        fs::path(argv0).is_absolute() || cwd.empty() ? fs::path(argv0) : fs::path(cwd) / argv0;
    return ::access(p.c_str(), X_OK) == 0;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    if (!dir.empty() && ::access((fs::path(dir) / argv0).c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return false;
}

std::string socketDirProblem(const std::string& what, const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return what + " " + path + ": longer than " +
           std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes";
  }
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  // The nearest existing ancestor must be writable (memvisord creates what is missing).
  std::error_code ec;
  while (!fs::exists(dir, ec) && dir.has_parent_path() && dir != dir.parent_path()) {
    dir = dir.parent_path();
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return what + " " + path + ": directory " + dir.string() +
           " is not writable: " + std::strerror(errno);
  }
  return "";
}

}  // namespace

Result<config::Config> loadAndValidate(const std::string& path) {
  auto c = config::loadConfigFile(path);
  if (!c) return c;
  std::vector<std::string> problems;
  for (const auto& [what, p] :
       {std::pair<std::string, std::string>{"daemon.bot_socket", c->daemon.bot_socket},
        {"daemon.control_socket", c->daemon.control_socket}}) {
    if (p.size() >= sizeof(sockaddr_un::sun_path)) {
      problems.push_back(path + ": " + what + ": socket path longer than " +
                         std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
    }
  }
  if (c->daemon.bot_socket == c->daemon.control_socket) {
    problems.push_back(path + ": daemon.control_socket: must differ from daemon.bot_socket");
  }
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems) msg += (msg.empty() ? "" : "\n") + p;
    return Error{"bad_config", msg};
  }
  return c;
}

int checkConfig(const std::string& path, std::ostream& out, std::ostream& err) {
  auto c = loadAndValidate(path);
  if (!c) {
    const auto lines = config::errorLines(c.error());
    for (const auto& l : lines) err << l << "\n";
    if (lines.empty()) err << c.error().message << "\n";
    err << path << ": invalid (" << (lines.empty() ? 1 : lines.size()) << " problem"
        << (lines.size() == 1 ? "" : "s") << ")\n";
    return kExitBadConfig;
  }
  out << config::explainConfig(*c);
  std::vector<std::string> warnings;
  for (const auto& w : selfCheck(*c, sampling::SysPaths{}, &warnings))
    out << "warning: " << w << "\n";
  for (const auto& w : warnings) out << "warning: " << w << "\n";
  for (const auto& w : config::nodeHeapWarnings(*c)) out << "warning: " << w << "\n";
  out << path << ": OK\n";
  return kExitOk;
}

std::vector<std::string> selfCheck(const config::Config& config, const sampling::SysPaths& paths,
                                   std::vector<std::string>* warnings) {
  std::vector<std::string> problems;
  if (auto st = sampling::readStat(paths, ::getpid()); !st) {
    problems.push_back("cannot read " + paths.proc_root + ": " + st.error().message);
  }
  if (auto p = socketDirProblem("bot socket", config.daemon.bot_socket); !p.empty()) {
    problems.push_back(p);
  }
  if (auto p = socketDirProblem("control socket", config.daemon.control_socket); !p.empty()) {
    problems.push_back(p);
  }
  for (const auto& bot : config.bots) {
    const auto& argv =
        bot.mode == config::Mode::kSpawn ? bot.spawn.command : bot.attach.restart_command;
    if (!argv.empty() && !executable(argv[0], bot.spawn.cwd)) {
      problems.push_back("bot " + bot.name + ": command " + argv[0] +
                         " not found or not executable");
    }
    std::error_code ec;
    if (!bot.spawn.cwd.empty() && !fs::is_directory(bot.spawn.cwd, ec)) {
      problems.push_back("bot " + bot.name + ": cwd " + bot.spawn.cwd + " is not a directory");
    }
    if (!bot.spawn.user.empty() && ::geteuid() != 0 && warnings) {
      warnings->push_back("bot " + bot.name + ": user " + bot.spawn.user +
                          " needs memvisord to run as root");
    }
    // A sidecar runs as the bot's uid and needs no privilege: warn only when the bot may be
    // another user's (connect with another uid, or a pidfile/cmdline bot of unknown owner).
    const bool same_uid = bot.attach.by == config::AttachBy::kConnect && bot.attach.uid &&
                          *bot.attach.uid == ::geteuid();
    if (bot.mode == config::Mode::kAttach && ::geteuid() != 0 && !same_uid && warnings) {
      warnings->push_back("bot " + bot.name +
                          ": attach mode without root: signalling and reading another user's "
                          "process may be refused (attach.uid equal to memvisord's uid " +
                          std::to_string(::geteuid()) + " needs no privilege)");
    }
  }
  return problems;
}

int runDaemon(const DaemonOptions& options) {
  // One malloc arena: memvisord's work is on one thread, and the few others (the metrics
  // endpoint's, the threshold registrar's) allocate little. Each extra arena would keep its
  // own pages resident for good, a few hundred KiB apiece.
  ::mallopt(M_ARENA_MAX, 1);
  // A fixed mmap threshold: large buffers (a status answer for a thousand bots) are mapped
  // and unmapped, instead of glibc raising the threshold after the first and carving every
  // later one out of the heap, where it stays.
  ::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  auto loaded = loadAndValidate(options.config_path);
  if (!loaded) {
    for (const auto& l : config::errorLines(loaded.error())) std::cerr << l << "\n";
    if (config::errorLines(loaded.error()).empty()) std::cerr << loaded.error().message << "\n";
    std::cerr << "memvisord: " << options.config_path << ": invalid config, not starting\n";
    return kExitBadConfig;
  }
  config::Config cfg = std::move(loaded.value());

  journal::Options jo;
  jo.format = options.log_format.value_or(cfg.daemon.journal.format == config::JournalFormat::kJson
                                               ? journal::Format::kJson
                                               : journal::Format::kLogfmt);
  jo.out = &std::cerr;
  jo.file_path = cfg.daemon.journal.file;
  jo.file_max_bytes = static_cast<std::uint64_t>(cfg.daemon.journal.max_size);
  jo.file_keep = cfg.daemon.journal.keep;
  journal::Journal journal(jo);

  std::vector<std::string> warnings;
  const auto problems = selfCheck(cfg, options.paths, &warnings);
  for (const auto& w : warnings) record(journal, "self_check", proto::Level::kWarn, w);
  if (!problems.empty()) {
    for (const auto& p : problems) record(journal, "self_check", proto::Level::kError, p);
    return kExitSelfCheck;
  }

  // Hundreds of bots need more than the default 1024 open files: take what the hard limit
  // allows, say how many bots that leaves room for, and warn when the config has more.
  const FdLimit fds = raiseOpenFileLimit();
  const std::size_t room = botsThatFit(fds.soft);
  record(journal, "limits", fds.error.empty() ? proto::Level::kInfo : proto::Level::kWarn,
         describe(fds),
         {{"nofile_soft", std::to_string(fds.soft)},
          {"nofile_hard", std::to_string(fds.hard)},
          {"bots_room", std::to_string(room)}});
  if (cfg.bots.size() > room) {
    record(journal, "limits", proto::Level::kWarn,
           "the config has " + std::to_string(cfg.bots.size()) + " bots, more than the " +
               std::to_string(room) +
               " the open-files limit leaves room for: raise the hard limit (LimitNOFILE= "
               "in the systemd unit, ulimit -Hn)");
  }

  // Bots that daemonise workers: their orphans come to us and are reaped (PID 1 already is).
  if (::getpid() != 1) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  ::signal(SIGPIPE, SIG_IGN);

  asio::io_context io;
  // After io (its threads post to it) and before the supervisor (whose bots submit to it).
  detection::ThresholdRegistrar registrar;
  ChildReaper reaper([&journal](pid_t pid, const ExitInfo& info) {
    record(journal, "reap", proto::Level::kDebug,
           "reaped orphan pid " + std::to_string(pid) + ": " + info.describe());
  });
  PidfdSignaller signaller;
  // Before the bots start, so that their series exist from the first sample.
  // Always built: the action counters that daemon.state_file keeps live there too.
  std::optional<Metrics> metrics;
  metrics.emplace();
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!cfg.daemon.metrics_listen.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(cfg.daemon.metrics_listen);
    } catch (const std::exception& e) {
      record(journal, "self_check", proto::Level::kError,
             "metrics endpoint " + cfg.daemon.metrics_listen + ": " + e.what());
      return kExitSelfCheck;
    }
    exposer->RegisterCollectable(metrics->collectable());
  }
  Supervisor::Options so;
  so.paths = options.paths;
  so.metrics = metrics ? &*metrics : nullptr;
  so.registrar = &registrar;
  so.wall_ms = wallMs;
  so.load_config = [path = options.config_path] { return loadAndValidate(path); };
  Supervisor supervisor(io, journal, signaller, reaper, cfg, so);

  // Signals first: a bot that dies at once is still reaped.
  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  signals.add(SIGCHLD);

  if (auto r = supervisor.start(); !r) {
    record(journal, "self_check", proto::Level::kError, r.error().message);
    supervisor.kill();
    return kExitSelfCheck;
  }

  control::Options co;
  co.path = cfg.daemon.control_socket;
  const config::ControlSocketAccess access = config::controlSocketAccess(cfg.daemon);
  co.mode = static_cast<mode_t>(access.mode);
  if (access.gid) co.group = std::to_string(*access.gid);
  for (auto u : cfg.daemon.allowed_uids) co.allow_uids.push_back(u);
  for (auto g : cfg.daemon.allowed_gids) co.allow_gids.push_back(g);
  co.proc_root = options.paths.proc_root;
  co.now_ms = wallMs;
  co.on_notice = [&journal](const control::Notice& n) {
    record(journal, control::toString(n.kind), proto::Level::kWarn, n.message,
           {{"peer_pid", std::to_string(n.peer.pid)}, {"peer_uid", std::to_string(n.peer.uid)}});
  };
  control::ControlServer control(io, co, supervisor, journal);
  if (auto r = control.start(); !r) {
    record(journal, "self_check", proto::Level::kError, "control socket: " + r.error().message);
    supervisor.kill();
    return kExitSelfCheck;
  }

  record(journal, "start", proto::Level::kInfo,
         "memvisord started: " + std::to_string(cfg.bots.size()) + " bot(s), config " +
             options.config_path,
         {{"pid", std::to_string(::getpid())},
          {"bot_socket", cfg.daemon.bot_socket},
          {"metrics", cfg.daemon.metrics_listen.empty()
                          ? "off"
                          : "http://" + cfg.daemon.metrics_listen + "/metrics"},
          {"control_socket", cfg.daemon.control_socket}});

  int exit_code = kExitOk;
  bool stopping = false;
  std::function<void(boost::system::error_code, int)> on_signal;
  on_signal = [&](boost::system::error_code ec, int sig) {
    if (ec) return;  // cancelled: shutting down
    if (sig == SIGCHLD) {
      reaper.reapAll();
    } else if (sig == SIGHUP) {
      record(journal, "config", proto::Level::kInfo, "SIGHUP: reloading " + options.config_path);
      (void)supervisor.reload();
    } else if (!stopping) {
      stopping = true;
      record(journal, "stop", proto::Level::kInfo,
             std::string("SIG") + sigabbrev_np(sig) +
                 ": stopping the bots memvisord started, then exiting (again to kill them now)");
      control.stop();
      supervisor.shutdown([&] {
        for (auto* bot : supervisor.bots()) {
          const auto peak = bot->peakMetric();
          record(journal, "summary", proto::Level::kInfo, "supervision summary",
                 {{"samples", std::to_string(bot->samples())},
                  {"kernel_wakeups", std::to_string(bot->kernelWakeups())},
                  {"peak", peak ? std::to_string(*peak) : "unknown"},
                  {"peak_human", peak ? config::formatBytes(*peak) : "unknown"},
                  {"actions", std::to_string(bot->actions())},
                  {"restarts", std::to_string(bot->status().restarts)},
                  {"oom_kills", std::to_string(bot->oomKills())}},
                 bot->name());
        }
        record(journal, "stop", proto::Level::kInfo, "memvisord stopped");
        signals.cancel();
        io.stop();
      });
    } else {
      record(journal, "stop", proto::Level::kWarn,
             std::string("SIG") + sigabbrev_np(sig) + " again: killing the bots' process groups");
      supervisor.kill();
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);

  try {
    io.run();
  } catch (const std::exception& e) {
    // Handlers return errors as values; reaching this is a bug worth a loud line.
    record(journal, "fatal", proto::Level::kError, std::string("event loop: ") + e.what());
    supervisor.kill();
    exit_code = kExitRuntime;
  }
  reaper.reapAll();
  return exit_code;
}

}  // namespace memvisor::daemon
