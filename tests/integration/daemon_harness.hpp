// Test harness for memvisord as a real process: a unique temp dir per test, the config
// written there, memvisord started (optionally inside a given cgroup) with its journal in
// JSON on a captured stderr, helpers to wait for journal entries with a bounded timeout,
// and a teardown that never leaves a bot running.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace memvisor::testing {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A port nobody listens on right now (the kernel picks it; never a fixed port).
// The v1 memory cgroup directory /proc/PID/cgroup names; empty when it names none.
inline std::string memoryCgroupOf(pid_t pid) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    const auto a = line.find(':');
    const auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    if (("," + line.substr(a + 1, b - a - 1) + ",").find(",memory,") != std::string::npos)
      return "/sys/fs/cgroup/memory" + line.substr(b + 1);
  }
  return "";
}

inline int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline std::string httpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::write(fd, req.data(), req.size()) < 0) {
    ::close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  const auto body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

// A journal field as a number ("freed": "1234"); 0 when absent.
inline long long num(const json& e, const char* key) {
  if (!e.contains(key)) return 0;
  const auto& v = e[key];
  if (v.is_number()) return v.get<long long>();
  if (v.is_string()) return std::atoll(v.get<std::string>().c_str());
  return 0;
}
inline std::string str(const json& e, const char* key) {
  return e.contains(key) && e[key].is_string() ? e[key].get<std::string>() : "";
}

class Daemon {
 public:
  explicit Daemon(const std::string& tag) {
    std::string tmpl = (fs::temp_directory_path() / ("memvisor-it-" + tag + "-XXXXXX")).string();
    dir = ::mkdtemp(tmpl.data());
    log = dir / "memvisord.log";
  }
  ~Daemon() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      if (!waitExit(30s)) {
        ::kill(pid, SIGKILL);
        waitExit(5s);
      }
    }
    // Whatever memvisord started must not outlive the test, even if memvisord crashed.
    for (pid_t p : spawnedPids()) ::kill(-p, SIGKILL);
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  std::string socket(const char* name) const { return (dir / name).string(); }

  // The daemon: section every test uses, then `bots` (YAML text of the bots: list items).
  fs::path writeConfig(const std::string& bots, const char* file = "memvisord.yaml") const {
    const fs::path p = dir / file;
    std::ofstream(p) << "daemon:\n  bot_socket: " << socket("bot.sock")
                     << "\n  control_socket: " << socket("ctl.sock") << "\nbots:\n"
                     << bots;
    return p;
  }

  // Starts memvisord --config <dir>/memvisord.yaml --log-format json. With `cgroup_procs`,
  // the child joins that cgroup before exec (so memvisord and its bots run inside it).
  void start(const std::string& cgroup_procs = "") {
    const std::string bin = MEMVISORD_BIN;
    const std::string cfg = (dir / "memvisord.yaml").string();
    pid = ::fork();
    if (pid == 0) {
      if (!cgroup_procs.empty()) {
        const int fd = ::open(cgroup_procs.c_str(), O_WRONLY);
        if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(126);
        ::close(fd);
      }
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execl(bin.c_str(), bin.c_str(), "--config", cfg.c_str(), "--log-format", "json",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }

  // memvisord's journal so far (bot output lines, which are not JSON, are skipped).
  std::vector<json> entries() const {
    std::vector<json> out;
    std::istringstream in(slurp(log));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] != '{') continue;
      auto j = json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.contains("kind")) out.push_back(std::move(j));
    }
    return out;
  }
  std::vector<json> entries(const std::string& kind) const {
    std::vector<json> out;
    for (auto& e : entries()) {
      if (str(e, "kind") == kind) out.push_back(e);
    }
    return out;
  }

  // Polls the journal until `pred` holds for the `nth` matching entry (0-based), or the
  // timeout passes. Also stops early if memvisord exits.
  std::optional<json> waitFor(const std::function<bool(const json&)>& pred,
                              std::chrono::milliseconds timeout = 30s, std::size_t nth = 0) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (true) {
      std::size_t seen = 0;
      for (const auto& e : entries()) {
        if (pred(e) && seen++ == nth) return e;
      }
      if (std::chrono::steady_clock::now() >= end || exited()) return std::nullopt;
      std::this_thread::sleep_for(50ms);
    }
  }
  std::optional<json> waitForKind(const std::string& kind, std::chrono::milliseconds timeout = 30s,
                                  std::size_t nth = 0) {
    return waitFor([&](const json& e) { return str(e, "kind") == kind; }, timeout, nth);
  }

  // SIGTERM (or `sig`) and the exit status; -1 when it did not exit in time.
  int stop(int sig = SIGTERM, std::chrono::milliseconds timeout = 40s) {
    if (pid <= 0) return status;
    ::kill(pid, sig);
    return waitExit(timeout) ? status : -1;
  }

  bool exited() {
    if (pid <= 0) return true;
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      status = st;
      pid = -1;
      return true;
    }
    return false;
  }

  // Every bot pid memvisord reported starting.
  std::set<pid_t> spawnedPids() const {
    std::set<pid_t> out;
    for (const auto& e : entries("spawn")) out.insert(static_cast<pid_t>(num(e, "pid")));
    return out;
  }

  std::string journalText() const { return slurp(log); }

  fs::path dir;
  fs::path log;
  pid_t pid = -1;
  int status = 0;  // wait status once exited

 private:
  bool waitExit(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (exited()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return exited();
  }
};

// The summary entry memvisord writes per bot at shutdown.
inline std::optional<json> summaryOf(const Daemon& d, const std::string& bot) {
  for (const auto& e : d.entries("summary")) {
    if (str(e, "bot") == bot) return e;
  }
  return std::nullopt;
}

}  // namespace memvisor::testing
