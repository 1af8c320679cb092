// YAML -> PlainNode with positions (see yaml_tree.hpp).
#include "yaml_tree.hpp"

#include <yaml-cpp/yaml.h>

namespace memvisor::config::detail {
namespace {

Pos toPos(const YAML::Mark& m, Pos fallback) {
  if (m.line < 0 || m.column < 0) return fallback;
  return Pos{m.line + 1, m.column + 1};
}

// YAML merge keys (`<<: *defaults`), which yaml-cpp leaves as a plain "<<" key: keys
// written in the map itself win, then earlier merged maps over later ones. Merged entries
// keep their positions (inside the anchor), so errors point at the line to fix.
void mergeInto(PlainNode& map, const PlainNode& source) {
  if (source.kind == PlainNode::Kind::kList) {
    for (const auto& item : source.items) mergeInto(map, item);
    return;
  }
  if (source.kind != PlainNode::Kind::kMap) return;
  for (const auto& e : source.entries) {
    if (!map.find(e.key)) map.entries.push_back(e);
  }
}

PlainNode convert(const YAML::Node& n, Pos fallback, int depth) {
  PlainNode out;
  out.pos = toPos(n.Mark(), fallback);
  if (depth > 64) return out;  // pathological nesting: treated as null, flagged by the validator
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out.kind = PlainNode::Kind::kNull;
      break;
    case YAML::NodeType::Scalar:
      out.kind = PlainNode::Kind::kScalar;
      out.scalar = n.Scalar();
      break;
    case YAML::NodeType::Sequence:
      out.kind = PlainNode::Kind::kList;
      for (const auto& item : n) out.items.push_back(convert(item, out.pos, depth + 1));
      break;
    case YAML::NodeType::Map: {
      out.kind = PlainNode::Kind::kMap;
      std::vector<PlainNode> merges;
      for (auto it = n.begin(); it != n.end(); ++it) {
        PlainEntry e;
        e.key_pos = toPos(it->first.Mark(), out.pos);
        e.key = it->first.IsScalar() ? it->first.Scalar() : std::string("<complex key>");
        e.value = convert(it->second, e.key_pos, depth + 1);
        if (e.key == "<<" && it->first.Tag() != "!" &&
            (e.value.kind == PlainNode::Kind::kMap || e.value.kind == PlainNode::Kind::kList)) {
          merges.push_back(std::move(e.value));
          continue;
        }
        out.entries.push_back(std::move(e));
      }
      for (auto& m : merges) mergeInto(out, m);
      break;
    }
  }
  return out;
}

}  // namespace

const PlainNode* PlainNode::find(std::string_view key) const {
  for (const auto& e : entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

const char* PlainNode::kindName() const {
  switch (kind) {
    case Kind::kNull: return "nothing";
    case Kind::kScalar: return "a single value";
    case Kind::kList: return "a list";
    case Kind::kMap: return "a map";
  }
  return "?";
}

Result<PlainNode> parseYamlTree(std::string_view text, const std::string& name) {
  // Exceptions stop here: yaml-cpp reports syntax errors by throwing.
  try {
    YAML::Node root = YAML::Load(std::string(text));
    return convert(root, Pos{1, 1}, 0);
  } catch (const YAML::Exception& e) {
    const Pos p = toPos(e.mark, Pos{0, 0});
    std::string where = name;
    if (p.line > 0) where += ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
    return Error{"bad_config", where + ": YAML syntax error: " + e.msg};
  } catch (const std::exception& e) {
    return Error{"bad_config", name + ": YAML error: " + e.what()};
  }
}

}  // namespace memvisor::config::detail
