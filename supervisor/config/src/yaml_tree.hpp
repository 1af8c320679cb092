// Stage 1 of config loading: YAML text -> a plain tree of scalars, lists and maps, each with
// its 1-based line and column. The only place yaml-cpp (and its exceptions) are touched.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memvisor/result.hpp"

namespace memvisor::config::detail {

struct Pos {
  int line = 0;  // 1-based; 0 = unknown
  int column = 0;
};

struct PlainEntry;

struct PlainNode {
  enum class Kind { kNull, kScalar, kList, kMap };
  Kind kind = Kind::kNull;
  Pos pos;
  std::string scalar;
  std::vector<PlainNode> items;  // kList
  std::vector<PlainEntry> entries;  // kMap, in file order, duplicates kept

  const PlainNode* find(std::string_view key) const;
  const char* kindName() const;  // "a single value", "a list", "a map", "nothing"
};

struct PlainEntry {
  std::string key;
  Pos key_pos;
  PlainNode value;
};

// Parses YAML text. A syntax error becomes Error{"bad_config", "name:line:col: message"}.
Result<PlainNode> parseYamlTree(std::string_view text, const std::string& name);

}  // namespace memvisor::config::detail
