// daemon.state_file: the counters a restarted memvisord carries on from.
#include "memvisor/daemon/saved_counters.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace memvisor::daemon {
namespace {

namespace fs = std::filesystem;

TEST(SavedCounters, RoundTripsEveryCounter) {
  SavedCounters in;
  in["amayo"] = BotCounters{3, 1, 42, {{"sweep:ok", 40}, {"trim:timeout", 2}}, {{"sweep", 123456789.0}}};
  in["other"] = BotCounters{};
  auto out = parseSavedCounters(formatSavedCounters(in));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, in);
}

TEST(SavedCounters, RefusesWhatIsNotAStateFile) {
  for (const char* text : {"", "[]", "{\"version\":1}", "{\"bots\":{\"a\":{\"restarts\":\"x\"}}}",
                           "{\"bots\":{\"a\":{\"actions_by\":{\"trim:ok\":[]}}}}", "{\"bots\":"}) {
    auto r = parseSavedCounters(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, "parse") << text;
  }
}

TEST(SavedCounters, AMissingFileIsAFirstStartAndASavedOneReadsBack) {
  char tmpl[] = "/tmp/memvisor-saved-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const fs::path dir = tmpl;
  auto none = loadSavedCounters((dir / "state.json").string());
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->empty());

  SavedCounters c;
  c["amayo"].restarts = 2;
  ASSERT_TRUE(saveSavedCounters((dir / "state.json").string(), c).ok());
  EXPECT_FALSE(fs::exists(dir / "state.json.tmp"));
  auto back = loadSavedCounters((dir / "state.json").string());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, c);

  // A directory that does not exist: an error with the path, not a crash.
  auto bad = saveSavedCounters((dir / "missing" / "state.json").string(), c);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("missing/state.json.tmp"), std::string::npos) << bad.error().message;
  std::ofstream(dir / "broken.json") << "{not json";
  auto broken = loadSavedCounters((dir / "broken.json").string());
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message.find("broken.json"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace memvisor::daemon
