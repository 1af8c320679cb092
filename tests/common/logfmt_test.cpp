// logfmt quoting shared by the journal, the C++ bot client and memvisorctl: one entry, one line.
#include "memvisor/logfmt.hpp"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(Logfmt, QuotesOnlyWhatNeedsItAndKeepsEveryEntryOnOneLine) {
  EXPECT_EQ(logfmtValue("312.0MiB"), "312.0MiB");
  EXPECT_EQ(logfmtValue(""), "\"\"");
  EXPECT_EQ(logfmtValue("a b"), "\"a b\"");
  EXPECT_EQ(logfmtValue("k=v"), "\"k=v\"");
  EXPECT_EQ(logfmtValue("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
  EXPECT_EQ(logfmtValue("two\nlines\r\tx"), "\"two\\nlines\\r\\tx\"");
  EXPECT_EQ(logfmtValue(std::string("bell\x07")), "\"bell\\u0007\"");
}

TEST(Logfmt, KeysKeepTheirSafeCharacters) {
  EXPECT_EQ(logfmtKey("heap_used.bytes-1"), "heap_used.bytes-1");
  EXPECT_EQ(logfmtKey("a key=x"), "a_key_x");
  EXPECT_EQ(logfmtKey(""), "_");
}

}  // namespace
}  // namespace memvisor
