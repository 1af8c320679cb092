// PSI trigger specs (2 s window rounding) and real trigger arming on /proc/pressure/memory and
// on a cgroup2 group created for the test.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "memvisor/detection/psi_trigger.hpp"

namespace memvisor::detection {
namespace {

using std::chrono::microseconds;

TEST(NormalizePsiTrigger, RoundsWindowUpToWholeTwoSecondsWithinTwoToTen) {
  struct Case {
    std::int64_t stall_us, window_us;
    std::int64_t want_stall_us, want_window_us;
    bool changed;
  } cases[] = {
      {150'000, 1'000'000, 150'000, 2'000'000, true},   // the kernel docs' example: refused here
      {50'000, 2'000'000, 50'000, 2'000'000, false},
      {100'000, 2'000'001, 100'000, 4'000'000, true},
      {100'000, 3'000'000, 100'000, 4'000'000, true},
      {100'000, 10'000'000, 100'000, 10'000'000, false},
      {100'000, 15'000'000, 100'000, 10'000'000, true},
      {100'000, 0, 100'000, 2'000'000, true},
      {5'000'000, 2'000'000, 2'000'000, 2'000'000, true},  // stall capped at the window
  };
  for (const auto& c : cases) {
    std::string note;
    auto r = normalizePsiTrigger(
        PsiTriggerSpec{PsiKind::kSome, microseconds(c.stall_us), microseconds(c.window_us)}, &note);
    ASSERT_TRUE(r.ok()) << c.window_us;
    EXPECT_EQ(r->stall.count(), c.want_stall_us) << c.stall_us << " " << c.window_us;
    EXPECT_EQ(r->window.count(), c.want_window_us) << c.window_us;
    EXPECT_EQ(!note.empty(), c.changed) << note;
  }
  std::string note;
  auto rounded = normalizePsiTrigger({PsiKind::kSome, microseconds(150'000), microseconds(1'000'000)}, &note);
  ASSERT_TRUE(rounded.ok());
  EXPECT_EQ(note, "window 1000000us rounded to 2000000us (multiples of 2 s, 2-10 s)");
}

TEST(NormalizePsiTrigger, RejectsNonPositiveStall) {
  for (std::int64_t stall : {0, -5}) {
    auto r = normalizePsiTrigger({PsiKind::kSome, microseconds(stall), microseconds(2'000'000)});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "invalid");
  }
}

TEST(FormatPsiTrigger, WritesKernelSyntax) {
  EXPECT_EQ(formatPsiTrigger({PsiKind::kSome, microseconds(150'000), microseconds(2'000'000)}),
            "some 150000 2000000");
  EXPECT_EQ(formatPsiTrigger({PsiKind::kFull, microseconds(50'000), microseconds(4'000'000)}),
            "full 50000 4000000");
}

bool hostPsiWritable(std::string* reason) {
  if (::access("/proc/pressure/memory", F_OK) != 0) {
    *reason = "kernel without PSI: /proc/pressure/memory missing";
    return false;
  }
  if (::access("/proc/pressure/memory", W_OK) != 0) {
    *reason = std::string("/proc/pressure/memory not writable: ") + std::strerror(errno);
    return false;
  }
  return true;
}

TEST(PsiTrigger, ArmsOnHostPressureForEveryWindowAfterNormalising) {
  std::string reason;
  if (!hostPsiWritable(&reason)) GTEST_SKIP() << reason;
  boost::asio::io_context io;
  // Raw 1 s, 3 s and 12 s windows are refused by this kernel (EINVAL); normalised, all arm.
  for (std::int64_t window : {1'000'000, 2'000'000, 3'000'000, 12'000'000}) {
    auto psi = PsiTrigger::create(io, "/proc/pressure/memory",
                                  {PsiKind::kSome, microseconds(150'000), microseconds(window)},
                                  [](const Event&) {});
    ASSERT_TRUE(psi.ok()) << window << ": " << psi.error().message;
    EXPECT_EQ((*psi)->spec().window.count() % 2'000'000, 0);
    (*psi)->stop();
  }
  auto full = PsiTrigger::create(io, "/proc/pressure/memory",
                                 {PsiKind::kFull, microseconds(100'000), microseconds(2'000'000)},
                                 [](const Event&) {});
  ASSERT_TRUE(full.ok()) << full.error().message;
  (*full)->stop();
  io.run();  // the aborted waits complete; nothing else is pending
}

TEST(PsiTrigger, ArmsOnTestCgroup2Group) {
  // The cgroup2 hierarchy here has no memory controller but does carry memory.pressure.
  std::string root;
  for (const char* candidate : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    if (::access((std::string(candidate) + "/cgroup.controllers").c_str(), F_OK) == 0) {
      root = candidate;
      break;
    }
  }
  if (root.empty()) GTEST_SKIP() << "no cgroup2 mount under /sys/fs/cgroup";
  std::ifstream self("/proc/self/cgroup");
  std::string line, rel;
  while (std::getline(self, line)) {
    if (line.rfind("0::", 0) == 0) rel = line.substr(3);
  }
  std::string dir = root + (rel == "/" ? "" : rel) + "/memvisor-psi-test-" + std::to_string(::getpid());
  if (::mkdir(dir.c_str(), 0755) != 0) {
    GTEST_SKIP() << "cannot create cgroup2 group " << dir << ": " << std::strerror(errno);
  }
  struct Cleanup {
    std::string dir;
    ~Cleanup() { ::rmdir(dir.c_str()); }
  } cleanup{dir};
  if (::access((dir + "/memory.pressure").c_str(), F_OK) != 0) {
    GTEST_SKIP() << dir << " has no memory.pressure (PSI disabled)";
  }
  boost::asio::io_context io;
  auto psi = PsiTrigger::create(io, dir + "/memory.pressure",
                                {PsiKind::kSome, microseconds(50'000), microseconds(2'000'000)},
                                [](const Event&) {});
  ASSERT_TRUE(psi.ok()) << psi.error().message;
  EXPECT_EQ((*psi)->path(), dir + "/memory.pressure");
  (*psi)->stop();
  io.run();
}

TEST(PsiTrigger, ReportsKernelRefusalWithContext) {
  boost::asio::io_context io;
  auto missing = PsiTrigger::create(io, "/nonexistent/memory.pressure", {}, [](const Event&) {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "enoent");
  EXPECT_EQ(missing.error().message,
            "opening /nonexistent/memory.pressure: No such file or directory");
  auto invalid = PsiTrigger::create(io, "/proc/pressure/memory",
                                    {PsiKind::kSome, microseconds(0), microseconds(2'000'000)},
                                    [](const Event&) {});
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().code, "invalid");
}

}  // namespace
}  // namespace memvisor::detection
