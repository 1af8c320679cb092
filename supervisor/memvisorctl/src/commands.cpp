// memvisorctl's command table, its help (--help, per-command help, --man) and the dispatch;
// the handlers are in handlers.cpp.
#include "commands.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <deque>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "handlers.hpp"
#include "memvisor/units.hpp"

namespace memvisor::ctl {

namespace {

using nlohmann::json;

// ---- help ------------------------------------------------------------------------------

int cmdQuit(Context&, const Command&, const Invocation&) { return kExitOk; }
int cmdHelp(Context&, const Command&, const Invocation&) { return kExitOk; }  // runCommandLine

// One command per action the bot protocol carries, from the action table.
std::vector<Command> actionCommands() {
  static std::deque<std::string> text;  // the generated usage and details outlive the table
  std::vector<Command> out;
  for (const auto& a : kActions) {
    if (!a.to_bot) continue;
    const std::string n(a.name);
    const char* usage = text.emplace_back(n + " BOT|all [BOT...]").c_str();
    const char* details = text.emplace_back(
        "Prints what was freed and how long it took; exit 1 when a bot failed.\n"
        "Examples:\n  memvisorctl " + n + " amayo\n  memvisorctl " + n + " all --json").c_str();
    out.push_back({a.name.data(), usage, a.summary.data(), details, ArgKind::kTargets, cmdRun});
  }
  return out;
}

template <typename... Parts>
std::vector<Command> concat(Parts&&... parts) {
  std::vector<Command> out;
  (out.insert(out.end(), parts.begin(), parts.end()), ...);
  return out;
}

const std::vector<Command> kCommands = concat(
    std::vector<Command>{
    {"status", "status [BOT...]", "Show the bots: state, memory against the limit, last action",
     "-v shows every figure, the bot's own stats and caches, and its liveness.\n"
     "STATE says HUNG for a running bot that stopped answering pings.\n"
     "Examples:\n  memvisorctl status\n  memvisorctl status -v amayo\n"
     "  memvisorctl status amayo --json | jq '.bots[0].bot_stats.caches'",
     ArgKind::kBots, cmdStatus},
    {"show", "show [BOT...]", "Everything memvisord knows about a bot (same as status -v)",
     "The process and its liveness, memory against the limit and the alert, every measured\n"
     "figure, the bot's own stats (heap, external, event-loop lag, entries per cache) with\n"
     "their age, the last action.\nExamples:\n  memvisorctl show amayo",
     ArgKind::kBots, cmdStatus}},
    actionCommands(), std::vector<Command>{
    {"restart", "restart BOT|all [BOT...]", "Restart a bot gracefully (shutdown, then spawn)",
     "Examples:\n  memvisorctl restart amayo\n  memvisorctl restart all", ArgKind::kTargets,
     cmdLifecycle},
    {"stop", "stop BOT|all [BOT...]", "Stop a bot (it stays stopped until start)",
     "Examples:\n  memvisorctl stop amayo", ArgKind::kTargets, cmdLifecycle},
    {"start", "start BOT|all [BOT...]", "Start a stopped bot",
     "Examples:\n  memvisorctl start amayo", ArgKind::kTargets, cmdLifecycle},
    {"pid", "pid BOT|all", "Print a bot's pid (exit 1 when it is not running)",
     "Examples:\n  memvisorctl pid amayo\n  kill -0 \"$(memvisorctl pid amayo)\"", ArgKind::kBot,
     cmdPid},
    {"limit", "limit BOT [SIZE]", "Show a bot's memory limit, or change it at run time",
     "A changed limit is journalled and lasts until memvisord reloads its config file.\n"
     "Sizes: 512MiB, 512M, 1.5GiB (powers of 1024).\n"
     "Examples:\n  memvisorctl limit amayo\n  memvisorctl limit amayo 512MiB",
     ArgKind::kBotSize, cmdLimit},
    {"reload", "reload", "Re-read memvisord's config file",
     "On an invalid file memvisord keeps the old config; its explanation is printed and the\n"
     "exit code is 1.\nExamples:\n  memvisorctl reload",
     ArgKind::kNone, cmdReload},
    {"events", "events [BOT] [--follow] [--since DURATION]",
     "Show memvisord's journal: thresholds, actions, restarts, OOM kills",
     "Without --since, everything memvisord still holds in memory is shown.\n"
     "Examples:\n  memvisorctl events\n  memvisorctl events amayo --since 1h\n"
     "  memvisorctl events --follow --json",
     ArgKind::kEvents, cmdEvents},
    {"top", "top [BOT...]", "Live view, refreshed every second: memory over time, actions",
     "Keys: q quits. With more bots than panels fit the screen (and always past 40), one\n"
     "line per bot under a summary of counts, the closest to their limit first: arrows or\n"
     "j/k scroll, PgUp/PgDn (or space) by a page, g/G to the top/bottom.\n"
     "With --json, prints one status object per second instead.\n"
     "Examples:\n  memvisorctl top\n  memvisorctl top amayo",
     ArgKind::kBots, runTop},
    {"help", "help [COMMAND]", "Show the commands, or one command's help",
     "Examples:\n  memvisorctl help\n  memvisorctl help limit", ArgKind::kHelp, cmdHelp},
    {"quit", "quit", "Leave the shell", "", ArgKind::kShell, cmdQuit},
    {"exit", "exit", "Leave the shell", "", ArgKind::kShell, cmdQuit},
});

const char* kMainFooter =
    "With no command, memvisorctl starts an interactive shell (history, tab completion).\n"
    "\n"
    "Examples:\n"
    "  memvisorctl status\n"
    "  memvisorctl sweep amayo\n"
    "  memvisorctl limit amayo 512MiB\n"
    "  memvisorctl events --follow\n"
    "  memvisorctl --socket /tmp/memvisor/ctl.sock status --json\n"
    "\n"
    "Socket: --socket, else $MEMVISOR_CONTROL_SOCKET, else /run/memvisor/ctl.sock.\n"
    "Colour only on a terminal, never with NO_COLOR set.\n"
    "\n"
    "Exit codes:\n"
    "  0  success\n"
    "  1  an action or request failed (one line per bot says which)\n"
    "  2  usage error\n"
    "  3  cannot connect to memvisord (no socket, not running, connection lost, timeout)\n"
    "  4  not permitted (memvisord refused this user)\n";

void printCommandList(Context& ctx) {
  const Style st = ctx.style();
  *ctx.out << "Commands:\n";
  for (const auto& c : kCommands) {
    if (c.args == ArgKind::kShell && !ctx.in_shell) continue;
    std::string u = c.usage;
    u.resize(std::max<std::size_t>(u.size(), 44), ' ');
    *ctx.out << "  " << st.paint(u, Color::kBold) << c.summary << "\n";
  }
  *ctx.out << "Type help COMMAND for a command's options and examples.\n";
}

// roff escapes: a leading dot or quote would be a request, backslash an escape.
std::string roff(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
    line_start = c == '\n';
  }
  return out;
}

// The manual page, generated from the same table as --help: memvisorctl --man > memvisorctl.1
void printManPage(std::ostream& out) {
  out << ".TH MEMVISORCTL 1 \"2026\" \"memvisor 0.1.0\" \"memvisor manual\"\n"
      << ".SH NAME\nmemvisorctl \\- control memvisord, the memory supervisor for long-running "
         "bots\n"
      << ".SH SYNOPSIS\n.B memvisorctl\n[\\fB\\-\\-socket\\fR \\fIPATH\\fR] [\\fB\\-\\-json\\fR] "
         "[\\fB\\-\\-no\\-color\\fR] [\\fB\\-\\-timeout\\fR \\fIDURATION\\fR] "
         "[\\fICOMMAND\\fR [\\fIARGS\\fR...]]\n"
      << ".SH DESCRIPTION\nmemvisorctl talks to memvisord over its control socket, the way "
         "supervisorctl talks to supervisord. With no command it starts an interactive shell "
         "with history and tab completion of commands and bot names.\n"
      << ".SH COMMANDS\n";
  for (const auto& c : kCommands) {
    if (c.args == ArgKind::kShell) continue;
    out << ".TP\n.B " << roff(c.usage) << "\n" << roff(c.summary) << ".\n";
    if (*c.details) out << ".sp\n.nf\n" << roff(c.details) << "\n.fi\n";
  }
  out << ".SH OPTIONS\n"
      << ".TP\n.BI \\-\\-socket \" PATH\"\nControl socket (else $MEMVISOR_CONTROL_SOCKET, else "
      << roff(kDefaultSocket) << ").\n"
      << ".TP\n.B \\-\\-json\nMachine-readable output.\n"
      << ".TP\n.B \\-\\-no\\-color\nNo colour even on a terminal (NO_COLOR does the same).\n"
      << ".TP\n.BI \\-\\-timeout \" DURATION\"\nHow long to wait for memvisord (default 60s).\n"
      << ".SH EXIT STATUS\n"
      << ".TP\n0\nsuccess\n.TP\n1\nan action or request failed\n.TP\n2\nusage error\n"
      << ".TP\n3\ncannot connect to memvisord\n.TP\n4\nnot permitted\n"
      << ".SH ENVIRONMENT\n.TP\n.B MEMVISOR_CONTROL_SOCKET\nthe control socket\n"
      << ".TP\n.B NO_COLOR\nno colour when set\n"
      << ".TP\n.B MEMVISORCTL_HISTORY\nthe shell's history file (default ~/.memvisorctl_history)\n"
      << ".SH SEE ALSO\n.BR memvisord (8)\n";
}

}  // namespace

const std::vector<Command>& commandTable() { return kCommands; }

const Command* findCommand(std::string_view name) {
  for (const auto& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

Style Context::style() const { return Style(colorWanted(STDOUT_FILENO, no_color)); }
Style Context::errStyle() const { return Style(colorWanted(STDERR_FILENO, no_color)); }
bool Context::outIsTty() const { return ::isatty(STDOUT_FILENO) == 1; }

int reportError(Context& ctx, const Error& e) {
  if (ctx.json)
    *ctx.out << json{{"error", {{"code", e.code}, {"message", e.message}}}}.dump() << "\n";
  *ctx.err << ctx.errStyle().paint("Error:", Color::kRed) << " " << e.message << "\n";
  return exitCodeFor(e);
}

Result<Client> connectOrReport(Context& ctx, int& code) {
  auto c = Client::connect(
      ctx.socket, std::chrono::milliseconds(std::min<std::int64_t>(ctx.timeout_ms, 10000)));
  if (!c) code = reportError(ctx, c.error());
  return c;
}

std::vector<std::string> fetchBotNames(Context& ctx) {
  auto c = Client::connect(ctx.socket, std::chrono::milliseconds(2000));
  if (!c) return {};
  auto r = c->request(proto::StatusRequest{}, std::chrono::milliseconds(2000));
  std::vector<std::string> names;
  if (r) {
    if (const auto* s = std::get_if<proto::StatusResult>(&*r)) {
      for (const auto& b : s->bots) names.push_back(b.name);
    }
  }
  return names;
}

int runCommandLine(Context& base, const std::vector<std::string>& argv) {
  Context ctx = base;
  Invocation inv;
  std::string timeout_text;
  const Command* selected = nullptr;

  CLI::App app{"memvisorctl: control memvisord, the memory supervisor for long-running bots",
               "memvisorctl"};
  app.footer(kMainFooter);
  app.set_help_all_flag("--help-all", "Print the help of every command (the manual)");
  app.set_version_flag("--version", "memvisorctl 0.1.0 (protocol " +
                                        std::to_string(proto::kProtocolMajor) + "." +
                                        std::to_string(proto::kProtocolMinor) + ")");
  app.fallthrough();
  app.require_subcommand(0, 1);
  app.add_option("--socket", ctx.socket, "Control socket of memvisord")
      ->envname(kSocketEnv)
      ->default_str(kDefaultSocket);
  app.add_flag("--json", ctx.json, "Machine-readable output (JSON)");
  app.add_flag("--no-color", ctx.no_color, "No colour even on a terminal");
  app.add_option("--timeout", timeout_text, "How long to wait for memvisord (default 60s)");
  bool man = false;
  app.add_flag("--man", man, "Print the manual page (roff): memvisorctl --man | man -l -");

  for (const auto& cmd : kCommands) {
    if (cmd.args == ArgKind::kShell && !ctx.in_shell) continue;
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.summary);
    sub->footer(std::string(cmd.details) + (*cmd.details ? "\n" : "") +
                "Global options work here too: --json, --socket PATH, --timeout DURATION, "
                "--no-color.");
    sub->callback([&selected, &cmd] { selected = &cmd; });
    switch (cmd.args) {
      case ArgKind::kNone:
      case ArgKind::kShell:
        break;
      case ArgKind::kBots:
        sub->add_option("BOT", inv.args, "Bot names (default: all bots)");
        if (std::string_view(cmd.name) == "status") {
          sub->add_flag("-v,--verbose", inv.verbose, "Every figure, one block per bot");
        }
        break;
      case ArgKind::kTargets:
        sub->add_option("BOT", inv.args, "Bot names, or all");
        break;
      case ArgKind::kBot:
        sub->add_option("BOT", inv.args, "A bot name, or all");
        break;
      case ArgKind::kBotSize:
        sub->add_option("BOT SIZE", inv.args, "The bot, then the new limit (e.g. 512MiB)");
        break;
      case ArgKind::kEvents:
        sub->add_option("BOT", inv.args, "Only this bot's entries");
        sub->add_flag("-f,--follow", inv.follow, "Keep printing new entries as they happen");
        sub->add_option("--since", inv.since, "Only entries newer than this (30s, 10m, 2h, 1d)");
        break;
      case ArgKind::kHelp:
        sub->add_option("COMMAND", inv.topic, "A command");
        break;
    }
  }

  std::vector<std::string> rev(argv.rbegin(), argv.rend());
  try {
    app.parse(rev);
  } catch (const CLI::CallForAllHelp&) {
    // The manual: the main help, then every command's full help, all from the table.
    *ctx.out << app.help();
    for (const auto& cmd : kCommands) {
      if (cmd.args == ArgKind::kShell) continue;
      *ctx.out << "\n"
               << std::string(60, '-') << "\nmemvisorctl " << cmd.usage << "\n"
               << app.get_subcommand(cmd.name)->help("memvisorctl");
    }
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::ostringstream o, er;
    const int rc = app.exit(e, o, er);
    *ctx.out << o.str();
    *ctx.err << er.str();
    if (rc == 0) return kExitOk;  // --help, --help-all, --version
    return kExitUsage;
  }
  if (!timeout_text.empty()) {
    auto d = memvisor::parseDuration(timeout_text);
    if (!d) {
      *ctx.err << "Error: --timeout: " << d.error().message << "\n";
      return kExitUsage;
    }
    ctx.timeout_ms = d->count();
  }
  if (man) {
    printManPage(*ctx.out);
    return kExitOk;
  }
  if (ctx.socket.empty()) ctx.socket = kDefaultSocket;
  if (selected == nullptr) {
    if (ctx.in_shell) return kExitOk;
    base = ctx;
    return runShell(base);
  }
  if (selected->args == ArgKind::kHelp) {
    if (inv.topic.empty()) {
      printCommandList(ctx);
      return kExitOk;
    }
    const Command* c = findCommand(inv.topic);
    if (c == nullptr || (c->args == ArgKind::kShell && !ctx.in_shell)) {
      *ctx.err << "Error: no command named \"" << inv.topic << "\"\n";
      printCommandList(ctx);
      return kExitUsage;
    }
    *ctx.out << app.get_subcommand(c->name)->help("memvisorctl");
    return kExitOk;
  }
  return selected->run(ctx, *selected, inv);
}

}  // namespace memvisor::ctl
