// PSI trigger specs (2 s window rounding) and real trigger arming on /proc/pressure/memory and
// on a cgroup2 group created for the test.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "memvisor/detection/psi_trigger.hpp"
#include "run_until.hpp"  // tests/support
#include "support/temp_tree.hpp"
#include "support/v1_test_cgroup.hpp"
#include "v2_test_group.hpp"

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
  testing::V2TestGroup group;
  if (!group.ok()) GTEST_SKIP() << group.reason();
  boost::asio::io_context io;
  auto psi = PsiTrigger::create(io, group.pressurePath(),
                                {PsiKind::kSome, microseconds(50'000), microseconds(2'000'000)},
                                [](const Event&) {});
  ASSERT_TRUE(psi.ok()) << psi.error().message;
  EXPECT_EQ((*psi)->path(), group.pressurePath());
  (*psi)->stop();
  io.run();
}

// A child that pins `anon_mib` of anonymous memory and then keeps re-reading a `file_mib` file
// it wrote itself (so its page cache is charged to its own cgroup). Under a v1 limit below
// anon + file, with no swap, the file pages are reclaimed and refaulted: a memory stall.
class ThrashChild {
 public:
  ThrashChild(const std::string& dir, std::size_t anon_mib, std::size_t file_mib) {
    if (::pipe(go_) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ < 0) std::abort();
    if (pid_ == 0) run(dir, anon_mib, file_mib);
    ::close(go_[0]);
  }
  ~ThrashChild() {
    ::close(go_[1]);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  [[nodiscard]] pid_t pid() const { return pid_; }
  void start() {
    char c = 'g';
    if (::write(go_[1], &c, 1) != 1) std::abort();
  }

 private:
  [[noreturn]] void run(const std::string& dir, std::size_t anon_mib, std::size_t file_mib) {
    ::close(go_[1]);
    char c;
    if (::read(go_[0], &c, 1) != 1) ::_exit(1);
    std::size_t anon = anon_mib << 20;
    auto* a = static_cast<char*>(::mmap(nullptr, anon, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (a == MAP_FAILED) ::_exit(2);
    std::memset(a, 1, anon);
    std::string path = dir + "/thrash-" + std::to_string(::getpid());
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) ::_exit(3);
    ::unlink(path.c_str());
    static char chunk[1 << 20];
    for (std::size_t i = 0; i < file_mib; ++i) {
      std::memset(chunk, static_cast<int>(i), sizeof chunk);
      if (::write(fd, chunk, sizeof chunk) != static_cast<ssize_t>(sizeof chunk)) ::_exit(4);
    }
    ::fsync(fd);  // clean pages: reclaimable without writeback, so reclaim then refault
    std::size_t file = file_mib << 20;
    auto* m = static_cast<volatile char*>(::mmap(nullptr, file, PROT_READ, MAP_SHARED, fd, 0));
    if (m == MAP_FAILED) ::_exit(5);
    for (;;) {  // until killed
      for (std::size_t off = 0; off < file; off += 4096) (void)m[off];
    }
  }

  pid_t pid_ = -1;
  int go_[2] = {-1, -1};
};

TEST(PsiTrigger, FiresWhenChildThrashesUnderV1Limit) {
  // Needs both a v1 memory group (the limit that causes the stall) and a cgroup2 group (whose
  // memory.pressure counts it), and a disk-backed directory for the file.
  testing::V1TestCgroup limit_group;
  if (!limit_group.ok()) GTEST_SKIP() << limit_group.reason();
  testing::V2TestGroup psi_group;
  if (!psi_group.ok()) GTEST_SKIP() << psi_group.reason();
  testing::TempTree dir;
  struct statfs fs {};
  if (::statfs(dir.path().c_str(), &fs) != 0 || fs.f_type == TMPFS_MAGIC) {
    GTEST_SKIP() << dir.path() << " is on tmpfs: its pages cannot be reclaimed without swap";
  }
  ASSERT_TRUE(limit_group.setLimit(48u << 20));

  boost::asio::io_context io;
  std::vector<Event> events;
  auto psi = PsiTrigger::create(io, psi_group.pressurePath(),
                                {PsiKind::kSome, microseconds(5'000), microseconds(2'000'000)},
                                [&](const Event& e) { events.push_back(e); });
  ASSERT_TRUE(psi.ok()) << psi.error().message;

  ThrashChild child(dir.path(), 30, 32);
  ASSERT_TRUE(limit_group.addProcess(child.pid()));
  ASSERT_TRUE(psi_group.addProcess(child.pid()));
  child.start();
  ASSERT_TRUE(testing::runUntil(io, [&] { return !events.empty(); }, std::chrono::seconds(15)))
      << "no PSI event; " << psi_group.pressurePath() << ": "
      << std::ifstream(psi_group.pressurePath()).rdbuf();
  EXPECT_EQ(events[0].source, Source::kPsi);
  EXPECT_EQ(events[0].path, psi_group.pressurePath());
  EXPECT_FALSE(events[0].gone);
  (*psi)->stop();
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
