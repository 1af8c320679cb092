// Internal to the config loader: the validator's value readers (scalars, sizes, durations,
// lists, each error with its position and path, "did you mean"), the allowed keys of each
// section (from the key table, keys.cpp) and small helpers shared by the section readers.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <csignal>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "memvisor/config/keys.hpp"
#include "memvisor/config/load.hpp"
#include "memvisor/config/node_heap.hpp"
#include "memvisor/config/profiles.hpp"
#include "yaml_tree.hpp"

namespace memvisor::config::detail {

using memvisor::actionNameList;
using memvisor::actionNames;
using memvisor::ActionSet;
using memvisor::kActions;
using Kind = PlainNode::Kind;

inline std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// " (did you mean 'x'?)" for the closest candidate within a third of the word, or "".
inline std::string didYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::size_t best = std::string::npos;
  std::string best_name;
  for (const auto& c : candidates) {
    const std::size_t d = editDistance(word, c);
    if (d < best) {
      best = d;
      best_name = c;
    }
  }
  const std::size_t allowed = std::max<std::size_t>(2, word.size() / 3);
  if (best_name.empty() || best > allowed) return "";
  return " (did you mean '" + best_name + "'?)";
}

class Validator {
 public:
  explicit Validator(std::string name) : name_(std::move(name)) {}

  void error(Pos pos, const std::string& path, const std::string& message) {
    std::string line = name_;
    if (pos.line > 0) line += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
    line += ": ";
    if (!path.empty()) line += path + ": ";
    line += message;
    // One error, one line: a key or value quoted from the file may hold a newline or other
    // control characters (found by the config fuzzer); show them escaped.
    std::string shown;
    for (const char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '\n') shown += "\\n";
      else if (c == '\r') shown += "\\r";
      else if (c == '\t') shown += "\\t";
      else if (u < 0x20 || u == 0x7f) {
        static constexpr char kHex[] = "0123456789abcdef";
        shown += "\\x";
        shown += kHex[u >> 4];
        shown += kHex[u & 0xf];
      } else shown += c;
    }
    errors_.push_back(std::move(shown));
    positions_.push_back(pos);
  }
  bool failed() const { return !errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  // The errors in file order (line, then column), as an editor would walk them.
  std::vector<std::string> sortedErrors() const {
    std::vector<std::size_t> idx(errors_.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    auto key = [&](std::size_t i) {
      const Pos& p = positions_[i];
      return std::make_pair(p.line > 0 ? p.line : INT32_MAX, p.column);
    };
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
    std::vector<std::string> out;
    for (auto i : idx) out.push_back(errors_[i]);
    return out;
  }

  // A map with only known keys (each unknown one reported with a suggestion) and no key
  // twice. False when `n` is not a map at all.
  bool checkMap(const PlainNode& n, const std::string& path,
                const std::vector<std::string>& allowed) {
    if (n.kind != Kind::kMap) {
      error(n.pos, path, std::string("expected a map of keys, got ") + n.kindName());
      return false;
    }
    std::set<std::string> seen;
    for (const auto& e : n.entries) {
      const std::string p = join(path, e.key);
      if (std::find(allowed.begin(), allowed.end(), e.key) == allowed.end()) {
        error(e.key_pos, p, "unknown key '" + e.key + "'" + didYouMean(e.key, allowed));
      } else if (!seen.insert(e.key).second) {
        error(e.key_pos, p, "key given twice");
      }
    }
    return true;
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  std::optional<std::string> scalar(const PlainNode& n, const std::string& path) {
    if (n.kind != Kind::kScalar) {
      error(n.pos, path, std::string("expected a single value, got ") + n.kindName());
      return std::nullopt;
    }
    return n.scalar;
  }

  std::optional<std::string> nonEmptyString(const PlainNode& n, const std::string& path) {
    auto s = scalar(n, path);
    if (s && s->empty()) {
      error(n.pos, path, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  std::optional<SizeSpec> size(const PlainNode& n, const std::string& path, bool allow_percent) {
    auto s = scalar(n, path);
    if (!s) return std::nullopt;
    auto r = parseSize(*s, allow_percent);
    if (!r) {
      error(n.pos, path, r.error().message);
      return std::nullopt;
    }
    return *r;
  }

  std::optional<Duration> duration(const PlainNode& n, const std::string& path, Duration min,
                                   Duration max) {
    auto s = scalar(n, path);
    if (!s) return std::nullopt;
    auto r = parseDuration(*s);
    if (!r) {
      error(n.pos, path, r.error().message);
      return std::nullopt;
    }
    if (*r < min || *r > max) {
      error(n.pos, path, "must be " + formatDuration(min) + ".." + formatDuration(max) +
                             ", got " + *s);
      return std::nullopt;
    }
    return *r;
  }

  std::optional<std::int64_t> integer(const PlainNode& n, const std::string& path,
                                      std::int64_t min, std::int64_t max) {
    auto s = scalar(n, path);
    if (!s) return std::nullopt;
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc() || ptr != s->data() + s->size()) {
      error(n.pos, path, "expected a whole number, got '" + *s + "'");
      return std::nullopt;
    }
    if (v < min || v > max) {
      error(n.pos, path, "must be " + std::to_string(min) + ".." + std::to_string(max) +
                             ", got " + *s);
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> boolean(const PlainNode& n, const std::string& path) {
    auto s = scalar(n, path);
    if (!s) return std::nullopt;
    if (*s == "true" || *s == "yes" || *s == "on") return true;
    if (*s == "false" || *s == "no" || *s == "off") return false;
    error(n.pos, path, "expected true or false, got '" + *s + "'");
    return std::nullopt;
  }

  std::optional<ActionKind> action(const PlainNode& n, const std::string& path) {
    auto s = scalar(n, path);
    if (!s) return std::nullopt;
    if (auto a = parseActionKind(*s)) return a;
    error(n.pos, path,
          "unknown action '" + *s + "', expected " + actionNames(ActionSet::kAll) +
              didYouMean(*s, actionNameList(ActionSet::kAll)));
    return std::nullopt;
  }

  std::optional<std::vector<std::string>> stringList(const PlainNode& n, const std::string& path) {
    if (n.kind != Kind::kList) {
      error(n.pos, path, std::string("expected a list, got ") + n.kindName());
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      auto s = scalar(n.items[i], path + "[" + std::to_string(i) + "]");
      if (s) {
        out.push_back(*s);
      } else {
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  std::optional<std::vector<std::uint32_t>> idList(const PlainNode& n, const std::string& path) {
    if (n.kind != Kind::kList) {
      error(n.pos, path, std::string("expected a list of numeric ids, got ") + n.kindName());
      return std::nullopt;
    }
    std::vector<std::uint32_t> out;
    for (std::size_t i = 0; i < n.items.size(); ++i) {
      if (auto v = integer(n.items[i], path + "[" + std::to_string(i) + "]", 0, 4294967294LL)) {
        out.push_back(static_cast<std::uint32_t>(*v));
      }
    }
    return out;
  }

 private:
  std::string name_;
  std::vector<std::string> errors_;
  std::vector<Pos> positions_;
};

// The allowed keys of each section come from the key table (keys.cpp).
inline const std::vector<std::string> kTopKeys = keyNames("(top level)");
inline const std::vector<std::string> kDaemonKeys = keyNames("daemon");
inline const std::vector<std::string> kJournalKeys = keyNames("daemon.journal");
inline const std::vector<std::string> kBotKeys = keyNames("bots[]");
inline const std::vector<std::string> kSpawnKeys = keyNames("bots[].spawn");
inline const std::vector<std::string> kAttachKeys = keyNames("bots[].attach");
inline const std::vector<std::string> kThresholdKeys = keyNames("bots[].thresholds[]");
inline const std::vector<std::string> kPeriodicKeys = keyNames("bots[].periodic[]");
inline const std::vector<std::string> kPredictiveKeys = keyNames("bots[].predictive");
inline const std::vector<std::string> kEscalationKeys = keyNames("bots[].escalation");
inline const std::vector<std::string> kDeadlineKeys = keyNames("bots[].deadlines");
inline const std::vector<std::string> kRestartKeys = keyNames("bots[].restart");
inline const std::vector<std::string> kPollKeys = keyNames("bots[].poll");
inline const std::vector<std::string> kLivenessKeys = keyNames("bots[].liveness");
inline const std::vector<std::string> kMonitorKeys = keyNames("bots[].monitor");

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

inline bool isNone(const PlainNode& n) {
  return n.kind == Kind::kNull ||
         (n.kind == Kind::kScalar && (n.scalar == "none" || n.scalar == "off" || n.scalar == "false"));
}

inline std::optional<int> parseSignal(std::string_view s) {
  static const std::vector<std::pair<std::string, int>> kSignals = {
      {"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},   {"QUIT", SIGQUIT},
      {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"KILL", SIGKILL}};
  std::string_view name = s;
  if (name.substr(0, 3) == "SIG") name.remove_prefix(3);
  for (const auto& [n, v] : kSignals) {
    if (name == n) return v;
  }
  return std::nullopt;
}

}  // namespace memvisor::config::detail
