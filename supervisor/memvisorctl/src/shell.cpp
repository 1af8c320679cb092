// memvisorctl's interactive shell (memvisorctl with no command), as supervisorctl's: a
// prompt with history (kept in ~/.memvisorctl_history) and tab completion of commands and
// bot names, via libedit. Each line runs through the same command table as the CLI. With
// stdin not a terminal, it reads one command per line (for scripts) without a prompt.
#include <editline/readline.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"

namespace memvisor::ctl {

namespace {

Context* g_ctx = nullptr;
std::vector<std::string> g_candidates;
std::vector<std::string> g_bot_cache;
std::chrono::steady_clock::time_point g_bot_cache_at{};

volatile std::sig_atomic_t g_interrupted = 0;

// Wakes a blocked poll() (the command returns to the prompt) or readline() (a new prompt).
void onInterrupt(int) { g_interrupted = 1; }

// Splits a line into words; '...' and "..." quote, backslash escapes.
std::vector<std::string> tokenize(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote != 0) {
      if (c == quote)
        quote = 0;
      else
        cur += c;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(cur);
  return out;
}

const std::vector<std::string>& botNames() {
  const auto now = std::chrono::steady_clock::now();
  if (g_bot_cache.empty() || now - g_bot_cache_at > std::chrono::seconds(2)) {
    g_bot_cache = fetchBotNames(*g_ctx);
    g_bot_cache_at = now;
  }
  return g_bot_cache;
}

char* generator(const char* text, int state) {
  static std::size_t index = 0;
  if (state == 0) index = 0;
  const std::string_view prefix(text);
  while (index < g_candidates.size()) {
    const std::string& c = g_candidates[index++];
    if (c.compare(0, prefix.size(), prefix) == 0) return strdup(c.c_str());
  }
  return nullptr;
}

char** complete(const char* text, int start, int /*end*/) {
  rl_attempted_completion_over = 1;  // never fall back to file names
  g_candidates.clear();
  const auto words = tokenize(std::string(rl_line_buffer, static_cast<std::size_t>(start)));
  if (words.empty()) {
    for (const auto& c : commandTable()) g_candidates.emplace_back(c.name);
  } else if (const Command* cmd = findCommand(words[0])) {
    const std::size_t arg_index = words.size() - 1;  // positionals before this word
    switch (cmd->args) {
      case ArgKind::kTargets:
      case ArgKind::kBot:
        g_candidates.emplace_back("all");
        [[fallthrough]];
      case ArgKind::kBots:
        for (const auto& b : botNames()) g_candidates.push_back(b);
        break;
      case ArgKind::kBotSize:
        if (arg_index == 0) g_candidates = botNames();
        break;
      case ArgKind::kEvents:
        for (const auto& b : botNames()) g_candidates.push_back(b);
        g_candidates.emplace_back("--follow");
        g_candidates.emplace_back("--since");
        break;
      case ArgKind::kHelp:
        for (const auto& c : commandTable()) g_candidates.emplace_back(c.name);
        break;
      case ArgKind::kNone:
      case ArgKind::kShell:
        break;
    }
  }
  return rl_completion_matches(text, generator);
}

std::string historyPath() {
  if (const char* p = std::getenv("MEMVISORCTL_HISTORY"); p != nullptr && *p != '\0') return p;
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    return std::string(h) + "/.memvisorctl_history";
  }
  return "";
}

int runLine(Context& ctx, const std::vector<std::string>& words) {
  Context line_ctx = ctx;
  line_ctx.in_shell = true;
  return runCommandLine(line_ctx, words);
}

int scriptMode(Context& ctx) {
  int last = kExitOk;
  std::string line;
  while (std::getline(std::cin, line)) {
    const auto words = tokenize(line);
    if (words.empty() || words[0].front() == '#') continue;
    if (words[0] == "quit" || words[0] == "exit") break;
    last = runLine(ctx, words);
  }
  return last;
}

}  // namespace

int runShell(Context& ctx) {
  ctx.in_shell = true;
  if (::isatty(STDIN_FILENO) != 1) return scriptMode(ctx);
  g_ctx = &ctx;

  // Ctrl-C stops a running command (events --follow), not the shell.
  struct sigaction sa {
  }, old{};
  sa.sa_handler = onInterrupt;
  ::sigaction(SIGINT, &sa, &old);

  {
    auto c = Client::connect(ctx.socket, std::chrono::milliseconds(2000));
    const Style st = ctx.style();
    if (c) {
      std::cout << st.paint("memvisorctl", Color::kBold) << ": connected to memvisord (pid "
                << c->daemonPid() << ") on " << ctx.socket << "\n";
    } else {
      std::cout << st.paint("Error:", Color::kRed) << " " << c.error().message << "\n";
    }
    std::cout << "Type help for the commands, Tab to complete, quit or Ctrl-D to leave.\n";
  }

  rl_readline_name = const_cast<char*>("memvisorctl");
  rl_attempted_completion_function = complete;
  using_history();
  const std::string hist = historyPath();
  if (!hist.empty()) read_history(hist.c_str());

  std::string last_added;
  while (true) {
    g_interrupted = 0;
    char* raw = readline("memvisor> ");
    if (raw == nullptr) {
      std::cout << "\n";
      if (g_interrupted) continue;  // Ctrl-C at the prompt: a fresh line, as in a shell
      break;
    }
    std::string line(raw);
    std::free(raw);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
    const auto words = tokenize(line);
    if (words.empty()) continue;
    if (line != last_added) add_history(line.c_str());
    last_added = line;
    if (words[0] == "quit" || words[0] == "exit") break;
    g_interrupted = 0;
    runLine(ctx, words);
    if (g_interrupted) std::cout << "\n";  // after the ^C the terminal echoed
  }
  if (!hist.empty()) {
    stifle_history(1000);
    write_history(hist.c_str());
  }
  ::sigaction(SIGINT, &old, nullptr);
  return kExitOk;
}

}  // namespace memvisor::ctl
