// File reads with errno context and the small text helpers the parsers share.
#include "text.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace memvisor::sampling::detail {

Result<std::string> readFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errnoError(errno, "reading " + path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return errnoError(err, "reading " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<std::string> readPidFile(const std::string& path) {
  auto text = readFile(path);
  if (!text.ok() && (text.error().code == "enoent" || text.error().code == "esrch")) {
    return Error{"gone", text.error().message};
  }
  return text;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\0')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<std::uint64_t> toU64(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<std::int64_t> toI64(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> toDouble(std::string_view s) {
  // GCC 12 has floating-point from_chars.
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool splitKeyValue(std::string_view line, std::string_view& key, std::string_view& value) {
  line = trim(line);
  auto sep = line.find_first_of(": \t");
  if (sep == std::string_view::npos) return false;
  key = line.substr(0, sep);
  std::string_view rest = line.substr(sep);
  if (!rest.empty() && rest.front() == ':') rest.remove_prefix(1);
  value = trim(rest);
  return !value.empty();
}

std::optional<std::uint64_t> kbValue(std::string_view value) {
  value = trim(value);
  std::uint64_t multiplier = 1;
  if (value.size() > 2 && value.substr(value.size() - 2) == "kB") {
    multiplier = 1024;
    value = trim(value.substr(0, value.size() - 2));
  }
  auto v = toU64(value);
  if (!v) return std::nullopt;
  return *v * multiplier;
}

Error parseError(const std::string& what) { return Error{"parse", what}; }
Error missingField(const std::string& field) {
  return Error{"missing_field", "missing field " + field};
}

}  // namespace memvisor::sampling::detail
