// libFuzzer target for the config loader: arbitrary bytes as a memvisord YAML file through
// yaml-cpp, the position-keeping plain tree, validation into a typed Config, and (when it
// loads) the --check-config explanation and the reload diff against itself. A crash, an
// escaping exception, a sanitizer report or a broken promise of load.hpp (an error without
// "file:line" positions, a valid config that differs from itself) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "memvisor/config/load.hpp"

namespace {

[[noreturn]] void die(const char* what, const std::string& detail) {
  std::fprintf(stderr, "invariant broken: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = memvisor::config::loadConfigString(text, "fuzz.yaml");
  if (!r.ok()) {
    if (r.error().code.empty() || r.error().message.empty()) die("error without text", "");
    for (const auto& line : memvisor::config::errorLines(r.error())) {
      if (line.rfind("fuzz.yaml", 0) != 0) die("error line without the file name", line);
    }
    return 0;
  }
  const std::string explained = memvisor::config::explainConfig(*r);
  if (explained.empty()) die("empty explanation", "");
  const auto diff = memvisor::config::diffConfigs(*r, *r);
  if (!diff.empty()) die("a config differs from itself", diff.changes.front());
  return 0;
}
