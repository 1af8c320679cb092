// Helpers of the control tests: temp dirs, raw Unix-socket clients, running a process
// (optionally as another uid) and capturing its output and exit code.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "memvisor/proto/codec.hpp"
#include "memvisor/proto/framer.hpp"

extern char** environ;

namespace memvisor::control::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mvctl-XXXXXX";
    path_ = ::mkdtemp(tmpl);
    ::chmod(path_.c_str(), 0755);  // the unprivileged client must reach sockets inside
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline int connectRaw(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline void sendRaw(int fd, const std::string& bytes) {
  (void)!::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

// Frames received until EOF, or until `max_frames`, or until `timeout` passes, or until
// `last` is true of a frame received.
struct Received {
  std::vector<proto::Message> frames;
  bool eof = false;
};
inline Received readFrames(int fd, std::chrono::milliseconds timeout,
                           std::size_t max_frames = 1000000,
                           const std::function<bool(const proto::Message&)>& last = {}) {
  Received r;
  proto::Framer framer;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  std::string f;
  while (r.frames.size() < max_frames) {
    while (r.frames.size() < max_frames && framer.next(f) == proto::Framer::Status::kFrame) {
      auto m = proto::decode(f);
      if (m) r.frames.push_back(*m);
      if (m && last && last(*m)) max_frames = r.frames.size();
    }
    if (r.frames.size() >= max_frames) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      r.eof = true;
      break;
    }
    framer.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  return r;
}

inline std::string helloFrame(proto::Role role = proto::Role::kControl) {
  proto::Hello h;
  h.role = role;
  h.pid = ::getpid();
  h.name = "test";
  return proto::encodeFrame(h);
}

struct ProcResult {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(int fd) {
  std::string s;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
  return s;
}

// Runs argv with extra environment entries; stdin from `input`. Returns code and output.
inline ProcResult runProcess(const std::vector<std::string>& argv,
                             const std::vector<std::string>& env_extra = {},
                             const std::string& input = "") {
  int out[2], err[2], in[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0)
    return {};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string s = *e;
    bool overridden = false;
    for (const auto& x : env_extra) {
      if (s.substr(0, s.find('=') + 1) == x.substr(0, x.find('=') + 1)) overridden = true;
    }
    if (!overridden) envs.push_back(s);
  }
  for (const auto& x : env_extra) envs.push_back(x);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  ::close(in[0]);
  ProcResult r;
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    ::close(in[1]);
    r.err = std::string("spawn failed: ") + std::strerror(rc);
    return r;
  }
  std::thread writer([fd = in[1], input] {
    (void)!::write(fd, input.data(), input.size());
    ::close(fd);
  });
  std::thread errReader([&r, fd = err[0]] { r.err = slurp(fd); });
  r.out = slurp(out[0]);
  errReader.join();
  writer.join();
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// A background process whose stdout is read line by line (fake_memvisord, events -f).
class Background {
 public:
  // stderr goes to `stderr_path` when given (a daemon's journal), else it is inherited.
  explicit Background(const std::vector<std::string>& argv, const std::string& stderr_path = "") {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (!stderr_path.empty()) {
      posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                       0644);
    }
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    if (::posix_spawnp(&pid_, cargv[0], &fa, nullptr, cargv.data(), environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    fd_ = out[0];
  }
  ~Background() {
    stop();
    if (fd_ >= 0) ::close(fd_);
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  // Waits until stdout has shown `text`; returns everything read so far.
  bool waitFor(const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (output_.find(text) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return false;
      output_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  const std::string& output() const { return output_; }
  int stop(int sig = SIGTERM) {
    if (pid_ <= 0) return status_;
    ::kill(pid_, sig);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = 0;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
  int fd_ = -1;
  int status_ = -1;
  std::string output_;
};

}  // namespace memvisor::control::testing
