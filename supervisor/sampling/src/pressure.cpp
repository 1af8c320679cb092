// PSI text: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and the same for "full".
#include "memvisor/sampling/pressure.hpp"

#include "text.hpp"

namespace memvisor::sampling {
namespace {

Result<PressureLine> parseLine(std::string_view rest, std::string_view kind) {
  PressureLine out;
  bool have[4] = {false, false, false, false};
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    auto sp = rest.find(' ');
    std::string_view tok = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp);
    auto eq = tok.find('=');
    if (eq == std::string_view::npos) {
      return detail::parseError("pressure: bad token '" + std::string(tok) + "'");
    }
    std::string_view key = tok.substr(0, eq);
    std::string_view value = tok.substr(eq + 1);
    auto bad = [&] {
      return detail::parseError("pressure: bad " + std::string(kind) + " " + std::string(key));
    };
    if (key == "total") {
      auto v = detail::toU64(value);
      if (!v) return bad();
      out.total_us = *v;
      have[3] = true;
      continue;
    }
    double* target = key == "avg10" ? &out.avg10 : key == "avg60" ? &out.avg60
                   : key == "avg300" ? &out.avg300 : nullptr;
    if (target == nullptr) continue;  // a future key
    auto v = detail::toDouble(value);
    if (!v) return bad();
    *target = *v;
    have[key == "avg10" ? 0 : key == "avg60" ? 1 : 2] = true;
  }
  for (bool h : have) {
    if (!h) return detail::missingField("avg10/avg60/avg300/total in pressure " + std::string(kind));
  }
  return out;
}

}  // namespace

Result<Pressure> parsePressure(std::string_view text) {
  Pressure out;
  bool have_some = false;
  std::optional<Error> error;
  detail::forEachLine(text, [&](std::string_view line) {
    if (error) return;
    line = detail::trim(line);
    if (line.empty()) return;
    auto sp = line.find(' ');
    std::string_view kind = line.substr(0, sp);
    std::string_view rest = sp == std::string_view::npos ? std::string_view{} : line.substr(sp);
    if (kind != "some" && kind != "full") return;
    auto parsed = parseLine(rest, kind);
    if (!parsed.ok()) {
      error = parsed.error();
      return;
    }
    if (kind == "some") {
      out.some = *parsed;
      have_some = true;
    } else {
      out.full = *parsed;
    }
  });
  if (error) return *error;
  if (!have_some) return detail::missingField("some in pressure");
  return out;
}

Result<Pressure> readPressure(const std::string& path) {
  auto text = detail::readFile(path);
  if (!text.ok()) return text.error();
  auto parsed = parsePressure(*text);
  if (!parsed.ok()) return parsed.error().wrap("reading " + path);
  return parsed;
}

Result<Pressure> readHostMemoryPressure(const SysPaths& paths) {
  return readPressure(paths.procFile("pressure/memory"));
}

}  // namespace memvisor::sampling
