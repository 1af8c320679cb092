// The journal: logfmt and JSON lines, the rotated JSON-lines file, the bounded backlog and
// live listeners.
#include "memvisor/journal/journal.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace memvisor::journal {
namespace {

namespace fs = std::filesystem;

proto::JournalEntry entry(std::int64_t ts_ms, std::string bot, std::string kind, std::string msg,
                          std::map<std::string, std::string> fields = {}) {
  proto::JournalEntry e;
  e.ts_ms = ts_ms;
  e.bot = std::move(bot);
  e.kind = std::move(kind);
  e.level = proto::Level::kWarn;
  e.message = std::move(msg);
  e.fields = std::move(fields);
  return e;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("memvisor-journal-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::string> readLines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(JournalFormat, WritesLogfmtWithFixedKeysFirst) {
  const auto e = entry(1764097200123, "amayo", "action", "trim done",
                       {{"freed", "24117248"}, {"action", "trim"}});
  EXPECT_EQ(Journal::formatLine(e, Format::kLogfmt),
            "ts=2025-11-25T19:00:00.123Z level=warn bot=amayo kind=action msg=\"trim done\" "
            "action=trim freed=24117248");
}

TEST(JournalFormat, QuotesAndEscapesLogfmtValues) {
  struct Case {
    std::string value;
    std::string written;
  } cases[] = {
      {"plain", "plain"},
      {"", "\"\""},
      {"two words", "\"two words\""},
      {"a=b", "\"a=b\""},
      {"say \"hi\"", "\"say \\\"hi\\\"\""},
      {"back\\slash", "\"back\\\\slash\""},
      {"line\nbreak", "\"line\\nbreak\""},
      {"tab\there", "\"tab\\there\""},
      {std::string("bell\x07"), "\"bell\\u0007\""},
      {"ünïcode", "ünïcode"},
  };
  for (const auto& c : cases) {
    const auto line = Journal::formatLine(entry(0, "", "k", "m", {{"v", c.value}}), Format::kLogfmt);
    const std::string tail = " v=" + c.written;
    ASSERT_GE(line.size(), tail.size());
    EXPECT_EQ(line.substr(line.size() - tail.size()), tail) << line;
  }
}

TEST(JournalFormat, SanitisesKeysAndKeepsReservedNamesApart) {
  const auto line = Journal::formatLine(
      entry(0, "", "k", "m", {{"bad key=", "1"}, {"msg", "x"}, {"", "e"}}), Format::kLogfmt);
  EXPECT_NE(line.find(" bad_key_=1"), std::string::npos) << line;
  EXPECT_NE(line.find(" field_msg=x"), std::string::npos) << line;
  EXPECT_NE(line.find(" _=e"), std::string::npos) << line;
  EXPECT_EQ(line.find("bot="), std::string::npos) << "daemon-wide entries have no bot: " << line;
}

TEST(JournalFormat, WritesOneJsonObjectPerLine) {
  const auto e = entry(1764097200123, "amayo", "restart", "rss 430 MiB >= hard ceiling",
                       {{"figure", "450887680"}, {"kind", "shadowed"}, {"nl", "a\nb"}});
  const std::string line = Journal::formatLine(e, Format::kJson);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("ts"), "2025-11-25T19:00:00.123Z");
  EXPECT_EQ(j.at("ts_ms"), 1764097200123);
  EXPECT_EQ(j.at("level"), "warn");
  EXPECT_EQ(j.at("bot"), "amayo");
  EXPECT_EQ(j.at("kind"), "restart");
  EXPECT_EQ(j.at("msg"), "rss 430 MiB >= hard ceiling");
  EXPECT_EQ(j.at("figure"), "450887680");
  EXPECT_EQ(j.at("field_kind"), "shadowed");
  EXPECT_EQ(j.at("nl"), "a\nb");
  // Invalid UTF-8 must not lose the line.
  const auto bad = Journal::formatLine(entry(0, "b", "k", std::string("\xff\xfe")), Format::kJson);
  EXPECT_TRUE(nlohmann::json::accept(bad)) << bad;
}

TEST(Journal, WritesEachEntryAsOneLineOnOut) {
  std::ostringstream out;
  Options o;
  o.out = &out;
  o.format = Format::kJson;
  Journal j(o);
  j.record(entry(1, "a", "k", "one"));
  j.record(entry(2, "b", "k", "two"));
  std::istringstream in(out.str());
  std::string l1, l2, l3;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_FALSE(std::getline(in, l3));
  EXPECT_EQ(nlohmann::json::parse(l1).at("msg"), "one");
  EXPECT_EQ(nlohmann::json::parse(l2).at("msg"), "two");
}

// An unbuffered stream, like std::cerr: every piece handed to it is one write(2) of its own.
class WritesRecorder : public std::streambuf {
 public:
  std::vector<std::string> writes;

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    writes.emplace_back(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) writes.emplace_back(1, traits_type::to_char_type(c));
    return c;
  }
};

// The bots memvisord starts share its stderr: a line in two writes can have a bot's line land
// in the middle (CI saw a journal line and a bot's glued together).
TEST(Journal, WritesEachLineOnOutInOneWrite) {
  for (const Format f : {Format::kJson, Format::kLogfmt}) {
    WritesRecorder rec;
    std::ostream out(&rec);
    Options o;
    o.out = &out;
    o.format = f;
    Journal j(o);
    j.record(entry(1, "a", "k", "one"));
    j.record(entry(2, "b", "k", "two", {{"x", "y z"}}));
    ASSERT_EQ(rec.writes.size(), 2u);
    for (const auto& w : rec.writes) {
      EXPECT_EQ(w.find('\n'), w.size() - 1) << "one whole line per write: " << w;
    }
  }
}

TEST(JournalFile, AppendsJsonLinesAndRotatesBySize) {
  TempDir dir;
  const fs::path file = dir.path() / "journal.jsonl";
  Options o;
  o.file_path = file.string();
  o.file_max_bytes = 1000;
  o.file_keep = 2;
  std::ostringstream out;
  o.out = &out;  // logfmt here, JSON in the file
  {
    Journal j(o);
    for (int i = 0; i < 40; ++i) j.record(entry(1000 + i, "amayo", "action", "entry " + std::to_string(i)));
  }
  ASSERT_TRUE(fs::exists(file));
  ASSERT_TRUE(fs::exists(dir.path() / "journal.jsonl.1"));
  ASSERT_TRUE(fs::exists(dir.path() / "journal.jsonl.2"));
  EXPECT_FALSE(fs::exists(dir.path() / "journal.jsonl.3"));  // keep = 2
  for (const char* name : {"journal.jsonl", "journal.jsonl.1", "journal.jsonl.2"}) {
    EXPECT_LE(fs::file_size(dir.path() / name), 1000u) << name;
  }
  // Newest entries in the live file, older ones in .1, oldest kept in .2; no line lost or
  // split between the three.
  const auto live = readLines(file);
  const auto one = readLines(dir.path() / "journal.jsonl.1");
  const auto two = readLines(dir.path() / "journal.jsonl.2");
  ASSERT_FALSE(live.empty());
  EXPECT_EQ(nlohmann::json::parse(live.back()).at("msg"), "entry 39");
  const int first_live = std::stoi(nlohmann::json::parse(live.front()).at("msg").get<std::string>().substr(6));
  const int last_one = std::stoi(nlohmann::json::parse(one.back()).at("msg").get<std::string>().substr(6));
  const int last_two = std::stoi(nlohmann::json::parse(two.back()).at("msg").get<std::string>().substr(6));
  const int first_one = std::stoi(nlohmann::json::parse(one.front()).at("msg").get<std::string>().substr(6));
  EXPECT_EQ(last_one + 1, first_live);
  EXPECT_EQ(last_two + 1, first_one);
  EXPECT_EQ(out.str().find("level=error"), std::string::npos) << out.str();
}

TEST(JournalFile, ContinuesAnExistingFileAcrossRestarts) {
  TempDir dir;
  const fs::path file = dir.path() / "j.jsonl";
  Options o;
  o.file_path = file.string();
  { Journal(o).record(entry(1, "a", "k", "first run")); }
  { Journal(o).record(entry(2, "a", "k", "second run")); }
  EXPECT_EQ(readLines(file).size(), 2u);
}

TEST(JournalFile, ReportsAnUnwritableFileOnceAndKeepsTheOtherSinks) {
  TempDir dir;
  std::ostringstream out;
  Options o;
  o.out = &out;
  o.file_path = (dir.path() / "missing-dir" / "j.jsonl").string();
  Journal j(o);
  int heard = 0;
  j.subscribe([&](const proto::JournalEntry&) { ++heard; });
  j.record(entry(1, "a", "k", "one"));
  j.record(entry(2, "a", "k", "two"));
  const std::string text = out.str();
  const auto first = text.find("kind=journal");
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("kind=journal", first + 1), std::string::npos) << "reported twice:\n" << text;
  EXPECT_NE(text.find("msg=one"), std::string::npos);
  EXPECT_NE(text.find("msg=two"), std::string::npos);
  EXPECT_EQ(heard, 3);  // the two entries and the report, which subscribers see too
  const auto backlog = j.since(0, std::nullopt);
  ASSERT_EQ(backlog.size(), 3u);
  EXPECT_EQ(backlog[0].kind, "journal");
  EXPECT_EQ(backlog[0].level, proto::Level::kError);
}

// /dev/full fails every write with ENOSPC, like a full disk: said once, with the reason.
TEST(JournalFile, ReportsADiskFullOnceWithTheReason) {
  TempDir dir;
  std::ostringstream out;
  Options o;
  o.out = &out;
  o.file_path = "/dev/full";
  auto j = std::make_unique<Journal>(o);
  for (int i = 0; i < 50; ++i) j->record(entry(i, "a", "k", "line" + std::to_string(i)));
  std::string text = out.str();
  const auto first = text.find("kind=journal");
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("kind=journal", first + 1), std::string::npos) << text;
  EXPECT_NE(text.find("No space left on device"), std::string::npos) << text;
  EXPECT_NE(text.find("msg=line49"), std::string::npos);
  EXPECT_EQ(j->since(0, std::nullopt).size(), 51u);
}

TEST(JournalFile, SaysOnceWhenTheFileTakesLinesAgainAndHowManyItMissed) {
  TempDir dir;
  std::ostringstream out;
  Options o;
  o.out = &out;
  o.file_path = (dir.path() / "later" / "j.jsonl").string();
  Journal j(o);
  for (int i = 0; i < 3; ++i) j.record(entry(i, "a", "k", "lost" + std::to_string(i)));
  fs::create_directories(dir.path() / "later");
  j.record(entry(3, "a", "k", "kept"));
  j.record(entry(4, "a", "k", "kept too"));
  const auto lines = readLines(o.file_path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("kept"), std::string::npos);
  EXPECT_NE(lines[1].find("takes lines again"), std::string::npos);
  EXPECT_NE(lines[1].find("\"missed\":\"3\""), std::string::npos) << lines[1];
  const std::string text = out.str();
  const auto again = text.find("takes lines again");
  ASSERT_NE(again, std::string::npos) << text;
  EXPECT_EQ(text.find("takes lines again", again + 1), std::string::npos) << text;
}

TEST(JournalBacklog, KeepsTheNewestEntriesUpToItsBound) {
  Options o;
  o.backlog_entries = 5;
  Journal j(o);
  for (int i = 0; i < 12; ++i) j.record(entry(i, "a", "k", std::to_string(i)));
  EXPECT_EQ(j.backlogSize(), 5u);
  const auto all = j.since(0, std::nullopt);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all.front().message, "7");
  EXPECT_EQ(all.back().message, "11");
}

// A flood of large bot events grew memvisord by 25 MiB when the bound counted entries: the
// bound is in bytes, and the newest entries are the ones kept.
TEST(JournalBacklog, BoundsItsMemoryInBytesUnderAFloodOfLargeEntries) {
  Options o;
  o.backlog_bytes = 256 * 1024;
  Journal j(o);
  const std::map<std::string, std::string> fields = {{"payload", std::string(2000, 'x')},
                                                     {"guild", "1234567890123456"}};
  for (int i = 0; i < 5000; ++i) {
    j.record(entry(i, "amayo", "bot_event", "event " + std::to_string(i) + std::string(900, '.'),
                   fields));
    ASSERT_LE(j.backlogBytes(), o.backlog_bytes) << "after entry " << i;
  }
  const auto all = j.since(0, std::nullopt);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().ts_ms, 4999);
  EXPECT_LT(all.size(), 100u);  // ~3 KiB each
  EXPECT_GT(all.size(), 50u);
  std::size_t counted = 0;
  for (const auto& e : all) counted += Journal::entryBytes(e);
  EXPECT_GE(counted, all.size() * 2900) << "the estimate must cover the payload";
}

TEST(JournalBacklog, KeepsTheNewestEntryEvenWhenItAloneExceedsTheBound) {
  Options o;
  o.backlog_bytes = 1024;
  Journal j(o);
  j.record(entry(1, "a", "k", "small"));
  j.record(entry(2, "a", "k", std::string(4096, 'x')));
  const auto all = j.since(0, std::nullopt);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].ts_ms, 2);
}

TEST(JournalBacklog, FiltersByTimeAndBot) {
  Journal j(Options{});
  j.record(entry(100, "amayo", "k", "a1"));
  j.record(entry(200, "other", "k", "o1"));
  j.record(entry(300, "amayo", "k", "a2"));
  j.record(entry(400, "", "config", "reload"));
  auto msgs = [](const std::vector<proto::JournalEntry>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(e.message);
    return out;
  };
  EXPECT_EQ(msgs(j.since(0, std::nullopt)), (std::vector<std::string>{"a1", "o1", "a2", "reload"}));
  EXPECT_EQ(msgs(j.since(200, std::nullopt)), (std::vector<std::string>{"o1", "a2", "reload"}));
  EXPECT_EQ(msgs(j.since(0, std::string("amayo"))), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(msgs(j.since(150, std::string("amayo"))), (std::vector<std::string>{"a2"}));
  EXPECT_TRUE(j.since(500, std::nullopt).empty());
}

TEST(JournalListeners, ReceiveEveryEntryUntilUnsubscribed) {
  Journal j(Options{});
  std::vector<std::string> a, b;
  const auto ta = j.subscribe([&](const proto::JournalEntry& e) { a.push_back(e.message); });
  const auto tb = j.subscribe([&](const proto::JournalEntry& e) { b.push_back(e.message); });
  EXPECT_NE(ta, tb);
  j.record(entry(1, "x", "k", "1"));
  j.unsubscribe(ta);
  j.record(entry(2, "x", "k", "2"));
  j.unsubscribe(tb);
  j.unsubscribe(tb);  // twice: harmless
  j.record(entry(3, "x", "k", "3"));
  EXPECT_EQ(a, (std::vector<std::string>{"1"}));
  EXPECT_EQ(b, (std::vector<std::string>{"1", "2"}));
}

TEST(JournalListeners, MayUnsubscribeThemselvesAndOthersWhileCalled) {
  Journal j(Options{});
  int calls_a = 0, calls_b = 0;
  std::uint64_t ta = 0, tb = 0;
  ta = j.subscribe([&](const proto::JournalEntry&) {
    ++calls_a;
    j.unsubscribe(ta);
    j.unsubscribe(tb);
  });
  tb = j.subscribe([&](const proto::JournalEntry&) { ++calls_b; });
  j.record(entry(1, "x", "k", "1"));
  j.record(entry(2, "x", "k", "2"));
  EXPECT_EQ(calls_a, 1);
  EXPECT_EQ(calls_b, 0);  // removed before its turn
}

}  // namespace
}  // namespace memvisor::journal
