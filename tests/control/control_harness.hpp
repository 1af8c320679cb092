// The ControlServer test harness: a server with a FakeBackend on its own io thread over a
// real Unix socket in a temp dir, and helpers to connect, read modes and act as nobody.
#pragma once

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "client.hpp"
#include "fake_backend.hpp"
#include "memvisor/control/server.hpp"
#include "test_util.hpp"

namespace memvisor::control {
namespace {

using namespace std::chrono_literals;
using testing::FakeBackend;
using testing::TempDir;

class Harness {
 public:
  explicit Harness(Options opt = {}) : journal_(journal::Options{}), backend_(io_, journal_) {
    opt.path = dir_.file("ctl.sock");
    opt.on_notice = [this](const Notice& n) {
      std::lock_guard lock(mu_);
      notices_.push_back(n);
    };
    options_ = opt;
  }
  ~Harness() { stop(); }

  template <typename F>
  auto onIo(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return fut.get();
  }
  Result<void> start() {
    server_ = std::make_unique<ControlServer>(io_, options_, backend_, journal_);
    auto r = server_->start();
    thread_ = std::thread([this] { io_.run(); });
    return r;
  }
  void stop() {
    if (!thread_.joinable()) return;
    onIo([this] { server_->stop(); });
    work_.reset();
    thread_.join();
  }
  void record(const std::string& bot, const std::string& msg) {
    onIo([&] {
      journal_.record({testing::wallMs(), bot, "action", proto::Level::kInfo, msg, {}});
    });
  }
  std::vector<Notice> notices() {
    std::lock_guard lock(mu_);
    return notices_;
  }
  bool waitNotice(Notice::Kind kind, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& n : notices()) {
        if (n.kind == kind) return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  std::size_t connections() {
    return onIo([this] { return server_->connections(); });
  }
  const std::string& path() const { return options_.path; }
  TempDir& dir() { return dir_; }
  journal::Journal& journal() { return journal_; }
  FakeBackend& backend() { return backend_; }

 private:
  TempDir dir_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  journal::Journal journal_;
  FakeBackend backend_;
  Options options_;
  std::unique_ptr<ControlServer> server_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Notice> notices_;
};

[[maybe_unused]] ctl::Client connectClient(const std::string& path) {
  auto c = ctl::Client::connect(path, 5s);
  if (!c) ADD_FAILURE() << c.error().message;
  return std::move(c).value();
}

[[maybe_unused]] mode_t modeOf(const std::string& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st.st_mode;
}

// Runs `fn` in a child that dropped to uid/gid 65534 (nobody); returns its exit status.
template <typename Fn>
int asNobody(Fn fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(99);
    }
    ::_exit(fn());
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

}  // namespace
}  // namespace memvisor::control
