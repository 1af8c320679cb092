// Runs memvisorctl against a test's memvisord and returns exit code and output; --json
// output parsed. For integration tests that read status the way an operator does.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace memvisor::testing {

struct CtlRun {
  int code = -1;
  std::string out;  // stdout (stderr to the test's own stderr)
};

inline CtlRun runCtl(const std::string& socket, const std::string& args) {
  CtlRun r;
  FILE* p = ::popen((std::string(MEMVISORCTL_BIN) + " --socket " + socket + " " + args).c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// `status BOT --json`, the bot's object; null when it failed.
inline nlohmann::json ctlStatus(const std::string& socket, const std::string& bot) {
  const CtlRun r = runCtl(socket, "status " + bot + " --json");
  if (r.code != 0) return nullptr;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded() || !j.contains("bots") || j["bots"].empty()) return nullptr;
  return j["bots"][0];
}

}  // namespace memvisor::testing
