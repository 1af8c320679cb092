// Lists of action names, built once from the table (see actions.hpp).
#include "memvisor/actions.hpp"

namespace memvisor {

std::vector<std::string> actionNameList(ActionSet set) {
  std::vector<std::string> out;
  for (const auto& i : kActions) {
    if (inSet(i, set)) out.emplace_back(i.name);
  }
  return out;
}

const std::string& actionNames(ActionSet set) {
  static const auto joined = [] {
    std::array<std::string, 3> out;
    for (auto s : {ActionSet::kAll, ActionSet::kToBot, ActionSet::kLadder}) {
      for (const auto& n : actionNameList(s)) {
        auto& j = out[static_cast<std::size_t>(s)];
        j += (j.empty() ? "" : "|") + n;
      }
    }
    return out;
  }();
  return joined[static_cast<std::size_t>(set)];
}

}  // namespace memvisor
