// The heap alert on stats (issue 9): once per excursion past 80 % of V8's heap limit.
#include "memvisor/policy/heap_watch.hpp"

#include <gtest/gtest.h>

namespace memvisor::policy {
namespace {
constexpr std::int64_t kMiB = 1024 * 1024;

TEST(HeapWatch, AlertsOncePerExcursionPastEightyPercentOfTheHeapLimit) {
  HeapWatch w;
  EXPECT_FALSE(watchHeap(w, 200 * kMiB, 259 * kMiB));  // 77 %
  auto n = watchHeap(w, 210 * kMiB, 259 * kMiB);       // 81 %
  ASSERT_TRUE(n);
  EXPECT_EQ(n->kind, "threshold");
  EXPECT_NE(n->message.find("V8 heap 210 MiB (81.1% of its limit 259 MiB) >= heap alert 80%"), std::string::npos) << n->message;
  EXPECT_FALSE(watchHeap(w, 250 * kMiB, 259 * kMiB));  // still above: no repeat
  EXPECT_FALSE(watchHeap(w, 200 * kMiB, 259 * kMiB));  // 77 %: within the hysteresis
  auto r = watchHeap(w, 150 * kMiB, 259 * kMiB);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, "recovered");
  EXPECT_TRUE(watchHeap(w, 240 * kMiB, 259 * kMiB));
}

TEST(HeapWatch, NeedsBothFigures) {
  HeapWatch w;
  EXPECT_FALSE(watchHeap(w, 250 * kMiB, std::nullopt));  // a 1.0 bot, or C++
  EXPECT_FALSE(watchHeap(w, std::nullopt, 259 * kMiB));
}

}  // namespace
}  // namespace memvisor::policy
