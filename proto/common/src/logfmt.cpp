// logfmt keys and values (see logfmt.hpp).
#include "memvisor/logfmt.hpp"

#include <cctype>
#include <cstdio>

namespace memvisor {

// logfmt keys: letters, digits, '_', '.', '-'; anything else becomes '_'.
std::string logfmtKey(std::string_view k) {
  if (k.empty()) return "_";
  std::string out(k);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '_' || c == '.' || c == '-')) c = '_';
  }
  return out;
}

std::string logfmtValue(std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || u < 0x20 || u == 0x7f) {
      quote = true;
      break;
    }
  }
  if (!quote) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace memvisor
