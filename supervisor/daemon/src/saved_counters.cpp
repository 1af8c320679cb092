// daemon.state_file: per-bot counters as JSON, written atomically.
#include "memvisor/daemon/saved_counters.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace memvisor::daemon {

namespace {
using nlohmann::json;
constexpr int kVersion = 1;

Error ioError(int err, const std::string& what) {
  return Error{err == ENOENT ? "enoent" : "io", what + ": " + std::strerror(err)};
}
}  // namespace

Result<SavedCounters> parseSavedCounters(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("bots") || !j["bots"].is_object()) {
    return Error{"parse", "not a memvisord state file (expected {\"version\":1,\"bots\":{...}})"};
  }
  SavedCounters out;
  for (const auto& [name, b] : j["bots"].items()) {
    if (!b.is_object()) return Error{"parse", "bots." + name + ": expected an object"};
    BotCounters c;
    auto num = [&](const char* key, auto& field) -> bool {
      if (!b.contains(key)) return true;
      if (!b[key].is_number()) return false;
      field = b[key].get<std::remove_reference_t<decltype(field)>>();
      return true;
    };
    auto map = [&](const char* key, std::map<std::string, double>& field) -> bool {
      if (!b.contains(key)) return true;
      if (!b[key].is_object()) return false;
      for (const auto& [k, v] : b[key].items()) {
        if (!v.is_number()) return false;
        field[k] = v.get<double>();
      }
      return true;
    };
    if (!num("restarts", c.restarts) || !num("oom_kills", c.oom_kills) ||
        !num("actions", c.actions) || !map("actions_by", c.actions_by) ||
        !map("freed_by", c.freed_by)) {
      return Error{"parse", "bots." + name + ": a counter is not a number"};
    }
    out.emplace(name, std::move(c));
  }
  return out;
}

std::string formatSavedCounters(const SavedCounters& counters) {
  json bots = json::object();
  for (const auto& [name, c] : counters) {
    bots[name] = {{"restarts", c.restarts},     {"oom_kills", c.oom_kills},
                  {"actions", c.actions},       {"actions_by", c.actions_by},
                  {"freed_by", c.freed_by}};
  }
  return json{{"version", kVersion}, {"bots", bots}}.dump(1) + "\n";
}

Result<SavedCounters> loadSavedCounters(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) return SavedCounters{};
    return ioError(err, "reading " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto r = parseSavedCounters(text.str());
  if (!r) return r.error().wrap(path);
  return r;
}

Result<void> saveSavedCounters(const std::string& path, const SavedCounters& counters) {
  const std::string tmp = path + ".tmp";
  const std::string text = formatSavedCounters(counters);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ioError(errno, "creating " + tmp);
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    ::unlink(tmp.c_str());
    return ioError(n < 0 ? err : ENOSPC, "writing " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return ioError(e, "renaming " + tmp + " to " + path);
  }
  return okResult();
}

}  // namespace memvisor::daemon
