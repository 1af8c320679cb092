// The command table of memvisorctl: one entry per command drives the CLI11 parser, the
// help texts (--help, per-command help, --help-all), dispatch, and the shell's completion.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "client.hpp"
#include "format.hpp"

namespace memvisor::ctl {

inline constexpr const char* kDefaultSocket = "/run/memvisor/ctl.sock";  // memvisord's default
inline constexpr const char* kSocketEnv = "MEMVISOR_CONTROL_SOCKET";

// Settings shared by every command of one invocation (or of one shell session).
struct Context {
  std::string socket;
  bool json = false;
  bool no_color = false;
  std::int64_t timeout_ms = 60000;
  bool in_shell = false;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;

  Style style() const;     // colour for stdout
  Style errStyle() const;  // colour for stderr
  bool outIsTty() const;
  std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(timeout_ms); }
};

// Arguments of one command as parsed by CLI11.
struct Invocation {
  std::vector<std::string> args;  // positionals
  bool follow = false;            // events
  std::string since;              // events
  std::string topic;              // help
  bool verbose = false;           // status -v: every figure, one block per bot
};

enum class ArgKind {
  kNone,     // reload
  kBots,     // status, top: BOT... (default all)
  kTargets,  // trim, restart...: BOT|all, one or more
  kBot,      // pid: one BOT (or all)
  kBotSize,  // limit: BOT [SIZE]
  kEvents,   // events: [BOT] --follow --since
  kHelp,     // help [COMMAND]
  kShell,    // quit/exit: shell only
};

struct Command;
using Handler = int (*)(Context&, const Command&, const Invocation&);

struct Command {
  const char* name;
  const char* usage;    // after "memvisorctl "
  const char* summary;  // one line
  const char* details;  // examples and notes, shown by per-command help
  ArgKind args;
  Handler run;
};

const std::vector<Command>& commandTable();
const Command* findCommand(std::string_view name);

// Parses argv (without the program name) with CLI11 built from the table and runs the
// command; with no command outside the shell, starts the shell. Returns the exit code.
int runCommandLine(Context& base, const std::vector<std::string>& argv);

// Connects, reporting the error in words (and as JSON with --json). Exit code in `code`.
Result<Client> connectOrReport(Context& ctx, int& code);
// Prints "Error: <message>" (and the JSON error with --json); returns the exit code.
int reportError(Context& ctx, const Error& e);
// Bot names memvisord knows (for completion); empty on any error.
std::vector<std::string> fetchBotNames(Context& ctx);

int runTop(Context& ctx, const Command& cmd, const Invocation& inv);
int runShell(Context& ctx);

}  // namespace memvisor::ctl
