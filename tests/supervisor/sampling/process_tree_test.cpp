// Process-tree discovery: task/*/children on captured trees, the /proc scan fallback on built
// trees with hostile comms, and real forked descendants.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "memvisor/sampling/process_tree.hpp"
#include "support/child_process.hpp"
#include "support/fixtures.hpp"
#include "support/temp_tree.hpp"

namespace memvisor::sampling {
namespace {

using testing::fixturePaths;
using testing::TempTree;

std::string statLine(int pid, const std::string& comm, int ppid) {
  return std::to_string(pid) + " (" + comm + ") S " + std::to_string(ppid) +
         " 1 1 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 100 1000 10\n";
}

TEST(ParseChildrenList, ParsesSpaceSeparatedPids) {
  auto r = parseChildrenList("9798 12 \n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<pid_t>{9798, 12}));
  auto empty = parseChildrenList("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto bad = parseChildrenList(testing::slurp(testing::fixture("hostile/text/children_bad")));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "parse");
}

TEST(ListProcessTree, FollowsTaskChildrenOnCapturedTree) {
  auto tree = listProcessTree(fixturePaths("v1_tree"), testing::kV1Bot);
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  EXPECT_EQ(*tree, (std::vector<pid_t>{testing::kV1Bot, testing::kV1Worker}));
}

TEST(ListProcessTree, SkipsChildThatVanishedAfterBeingListed) {
  // 500 lists 501 (zombie), 502 (vanished: empty dir), 503 (truncated files).
  auto tree = listProcessTree(fixturePaths("hostile"), 500);
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  EXPECT_EQ(*tree, (std::vector<pid_t>{500, 501, 503}));
}

TEST(ListProcessTree, SaysGoneWhenRootIsMissing) {
  auto tree = listProcessTree(fixturePaths("hostile"), 502);
  ASSERT_FALSE(tree.ok());
  EXPECT_EQ(tree.error().code, "gone");
}

TEST(ListProcessTree, ScansPpidsWhenKernelHasNoChildrenFiles) {
  TempTree t;
  t.write("proc/10/stat", statLine(10, "bot", 1));
  t.write("proc/11/stat", statLine(11, "shard 1", 10));
  t.write("proc/12/stat", statLine(12, "worker", 11));
  // Its comm pretends "S 10": a naive split would take it for a child of 10.
  t.write("proc/13/stat", statLine(13, "x) S 10 (y", 1));
  t.write("proc/14/stat", "14 (trunc");  // torn read: ignored
  t.mkdir("proc/15");                     // vanished between readdir and open
  t.write("proc/meminfo", "MemTotal: 1 kB\n");
  SysPaths paths{t.path("proc"), t.path("cgroup")};
  auto tree = listProcessTree(paths, 10);
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  EXPECT_EQ(*tree, (std::vector<pid_t>{10, 11, 12}));
  EXPECT_EQ(listChildrenByScan(paths, 1), (std::vector<pid_t>{10, 13}));
  auto children = listChildren(paths, 11);
  ASSERT_TRUE(children.ok());
  EXPECT_EQ(*children, (std::vector<pid_t>{12}));
}

TEST(ListProcessTree, DoesNotLoopOnCyclicFixture) {
  TempTree t;
  t.write("proc/20/stat", statLine(20, "a", 21));
  t.write("proc/21/stat", statLine(21, "b", 20));
  SysPaths paths{t.path("proc"), t.path("cgroup")};
  auto tree = listProcessTree(paths, 20);
  ASSERT_TRUE(tree.ok());
  EXPECT_EQ(*tree, (std::vector<pid_t>{20, 21}));
}

TEST(ListProcessTree, FindsRealForkedDescendants) {
  // child -> grandchild, both real; the tree of this test process must contain both.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pid_t grandchild = ::fork();
    if (grandchild == 0) {
      ::pause();
      ::_exit(0);
    }
    if (::write(ready[1], &grandchild, sizeof grandchild) != sizeof grandchild) ::_exit(1);
    ::waitpid(grandchild, nullptr, 0);
    ::_exit(0);
  }
  pid_t grandchild = 0;
  ASSERT_EQ(::read(ready[0], &grandchild, sizeof grandchild), static_cast<ssize_t>(sizeof grandchild));
  ::close(ready[0]);
  ::close(ready[1]);

  auto tree = listProcessTree(SysPaths{}, ::getpid());
  auto scanned = listChildrenByScan(SysPaths{}, ::getpid());
  ::kill(grandchild, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(tree.ok()) << tree.error().message;
  EXPECT_EQ(tree->front(), ::getpid());
  EXPECT_NE(std::find(tree->begin(), tree->end(), child), tree->end());
  EXPECT_NE(std::find(tree->begin(), tree->end(), grandchild), tree->end());
  // The /proc scan fallback agrees on the direct child.
  EXPECT_NE(std::find(scanned.begin(), scanned.end(), child), scanned.end());
}

}  // namespace
}  // namespace memvisor::sampling
