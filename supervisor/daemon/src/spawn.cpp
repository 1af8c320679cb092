// fork/exec with the exec error reported through a close-on-exec pipe. Everything the child
// does between fork and exec is async-signal-safe: the user is resolved before the fork.
#include "memvisor/daemon/spawn.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>

extern char** environ;

namespace memvisor::daemon {
namespace {

struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

Result<Credentials> resolveUser(const std::string& user) {
  std::array<char, 16384> buf{};
  passwd pw{};
  passwd* found = nullptr;
  uid_t numeric = 0;
  const auto [ptr, ec] = std::from_chars(user.data(), user.data() + user.size(), numeric);
  const bool is_number = ec == std::errc() && ptr == user.data() + user.size();
  const int rc = is_number ? ::getpwuid_r(numeric, &pw, buf.data(), buf.size(), &found)
                           : ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (found == nullptr) {
    if (is_number) return Credentials{numeric, numeric, {}};  // a uid without passwd entry
    return Error{"unknown_user", "user " + user + " not found" +
                                     (rc != 0 ? std::string(": ") + std::strerror(rc) : "")};
  }
  Credentials c{pw.pw_uid, pw.pw_gid, {}};
  int n = 64;
  c.groups.resize(static_cast<std::size_t>(n));
  if (::getgrouplist(pw.pw_name, pw.pw_gid, c.groups.data(), &n) < 0) {
    c.groups.resize(static_cast<std::size_t>(n));
    ::getgrouplist(pw.pw_name, pw.pw_gid, c.groups.data(), &n);
  }
  c.groups.resize(static_cast<std::size_t>(n));
  return c;
}

// What the child reports through the pipe when a step fails.
struct ChildFailure {
  int step;
  int err;
};
constexpr const char* kSteps[] = {"setpgid",   "join cgroup", "open /dev/null", "chdir",
                                  "setgroups", "setgid",      "setuid",         "exec"};

[[noreturn]] void childFail(int fd, int step) {
  const ChildFailure f{step, errno};
  [[maybe_unused]] auto n = ::write(fd, &f, sizeof f);
  ::_exit(127);
}

}  // namespace

std::vector<std::string> mergeEnvironment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& [k, v] : overrides) env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

Result<SpawnedProcess> spawnProcess(const SpawnSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return Error{"bad_spec", "empty argv"};
  std::optional<Credentials> creds;
  if (spec.user) {
    auto c = resolveUser(*spec.user);
    if (!c) return c.error();
    creds = std::move(c.value());
  }
  int cgroup_fd = -1;
  if (!spec.cgroup_procs_path.empty()) {
    cgroup_fd = ::open(spec.cgroup_procs_path.c_str(), O_WRONLY | O_CLOEXEC);
    if (cgroup_fd < 0) return errnoError(errno, "opening " + spec.cgroup_procs_path);
  }
  // argv/envp arrays built before fork: no allocation in the child.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  const std::vector<std::string> merged =
      spec.env.empty() ? mergeEnvironment(spec.env_overrides) : std::vector<std::string>{};
  for (const auto& e : spec.env.empty() ? merged : spec.env) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    const int err = errno;
    if (cgroup_fd >= 0) ::close(cgroup_fd);
    return errnoError(err, "pipe2");
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    if (cgroup_fd >= 0) ::close(cgroup_fd);
    return errnoError(err, "fork");
  }
  if (pid == 0) {
    const int wfd = pipefd[1];
    // Asio's signal handling blocks nothing, but a parent's mask and handlers must not leak.
    sigset_t all;
    ::sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT}) ::signal(s, SIG_DFL);
    if (::setpgid(0, 0) != 0) childFail(wfd, 0);
    if (cgroup_fd >= 0 && ::write(cgroup_fd, "0", 1) != 1) childFail(wfd, 1);
    if (spec.stdin_null) {
      const int nul = ::open("/dev/null", O_RDONLY);
      if (nul < 0) childFail(wfd, 2);
      ::dup2(nul, 0);
      if (nul != 0) ::close(nul);
    }
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) childFail(wfd, 3);
    if (creds) {
      if (::setgroups(creds->groups.size(), creds->groups.data()) != 0) childFail(wfd, 4);
      if (::setgid(creds->gid) != 0) childFail(wfd, 5);
      if (::setuid(creds->uid) != 0) childFail(wfd, 6);
    }
    // Whatever memvisord holds open (sockets, eventfds) must not leak into the bot.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execvpe(argv[0], argv.data(), envp.data());
    childFail(wfd, 7);
  }
  ::close(pipefd[1]);
  if (cgroup_fd >= 0) ::close(cgroup_fd);
  ::setpgid(pid, pid);  // also from the parent: no window where the child is in our group
  auto pidfd = Pidfd::open(pid);

  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(pipefd[0], &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  ::close(pipefd[0]);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const int step = failure.step >= 0 && failure.step < 8 ? failure.step : 7;
    return errnoError(failure.err, std::string(kSteps[step]) + " of " + spec.argv[0])
        .wrap("spawning");
  }
  if (!pidfd) {
    // Cannot happen for our own unreaped child, short of fd exhaustion: don't leave it
    // running unsupervised.
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return pidfd.error().wrap("spawning " + spec.argv[0]);
  }
  return SpawnedProcess{pid, std::move(pidfd.value())};
}

}  // namespace memvisor::daemon
