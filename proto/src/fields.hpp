// Internal to the protocol library: reading one JSON object's fields with type and range
// checks (the decoder's building block), and the numeric bounds the decoders share.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "memvisor/proto/codec.hpp"

namespace memvisor::proto::detail {

using json = nlohmann::json;

inline constexpr std::int64_t kMaxSafe = kMaxSafeInteger;
inline constexpr std::int64_t kMaxDeadlineMs = 600000;
inline constexpr std::int64_t kMaxPid = std::numeric_limits<std::int32_t>::max();
inline constexpr std::int64_t kMaxVersionPart = 65535;

inline const char* jsonTypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "value";
  }
}

// A short, printable rendering of an offending value for error messages.
inline std::string describe(const json& v) {
  constexpr std::size_t kMax = 40;
  if (v.is_string()) {
    std::string s = v.get_ref<const std::string&>();
    if (s.size() > kMax) {
      std::size_t cut = kMax;
      // Never split a UTF-8 sequence: back up over continuation bytes.
      while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
      s.resize(cut);
      s += "...";
    }
    return json(s).dump(-1, ' ', true, json::error_handler_t::replace);
  }
  if (v.is_number() || v.is_boolean() || v.is_null()) return v.dump();
  return jsonTypeName(v);
}

// Reads the fields of one JSON object with type and range checks. The first failure is
// kept and later reads become no-ops, so decoders read straight through without branching.
class Fields {
 public:
  Fields(const json& obj, const std::string& type, std::string prefix = "")
      : obj_(obj), type_(type), prefix_(std::move(prefix)) {}

  bool failed() const { return err_.has_value(); }
  Error error() const { return *err_; }
  void fail(Error e) {
    if (!err_) err_ = std::move(e);
  }

  void reqId(std::uint64_t& out) { id("id", out, true); }
  void optId(std::optional<std::uint64_t>& out) {
    std::uint64_t v = 0;
    if (id("id", v, false)) out = v;
  }

  void reqInt(const char* key, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
    integer(key, out, lo, hi, true);
  }
  void optInt(const char* key, std::optional<std::int64_t>& out, std::int64_t lo,
              std::int64_t hi) {
    std::int64_t v = 0;
    if (integer(key, v, lo, hi, false)) out = v;
  }
  // Absent leaves `out` at its default.
  void defInt(const char* key, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
    integer(key, out, lo, hi, false);
  }
  void reqInt(const char* key, int& out, std::int64_t lo, std::int64_t hi) {
    std::int64_t v = 0;
    if (integer(key, v, lo, hi, true)) out = static_cast<int>(v);
  }

  void reqNum(const char* key, double& out, double lo, double hi) { number(key, out, lo, hi, true); }
  void defNum(const char* key, double& out, double lo, double hi) { number(key, out, lo, hi, false); }
  void optNum(const char* key, std::optional<double>& out, double lo, double hi) {
    double v = 0;
    if (number(key, v, lo, hi, false)) out = v;
  }

  void reqStr(const char* key, std::string& out, bool non_empty = false) {
    string(key, out, true, non_empty);
  }
  void defStr(const char* key, std::string& out) { string(key, out, false, false); }
  void optStr(const char* key, std::optional<std::string>& out) {
    std::string v;
    if (string(key, v, false, false)) out = std::move(v);
  }

  void reqBool(const char* key, bool& out) { boolean(key, out, true); }
  void defBool(const char* key, bool& out) { boolean(key, out, false); }
  void optBool(const char* key, std::optional<bool>& out) {
    bool v = false;
    if (boolean(key, v, false)) out = v;
  }

  template <typename E>
  void reqEnum(const char* key, E& out, std::optional<E> (*parse)(std::string_view),
               const char* allowed) {
    const json* v = find(key, true, json::value_t::string, "a string");
    if (!v) return;
    const auto parsed = parse(v->get_ref<const std::string&>());
    if (!parsed) {
      fail({errc::kOutOfRange, where(key) + "must be one of " + allowed + ", got " + describe(*v)});
      return;
    }
    out = *parsed;
  }

  void strList(const char* key, std::vector<std::string>& out, bool required) {
    const json* v = find(key, required, json::value_t::array, "an array of strings");
    if (!v) return;
    for (std::size_t i = 0; i < v->size(); ++i) {
      const json& e = (*v)[i];
      if (!e.is_string()) {
        fail(badType(path(key, i), "a string", e));
        return;
      }
      out.push_back(e.get_ref<const std::string&>());
    }
  }

  void intList(const char* key, std::vector<std::int64_t>& out, std::int64_t lo, std::int64_t hi) {
    const json* v = find(key, false, json::value_t::array, "an array of integers");
    if (!v) return;
    for (std::size_t i = 0; i < v->size(); ++i) {
      std::int64_t n = 0;
      if (!checkInt((*v)[i], path(key, i), lo, hi, n)) return;
      out.push_back(n);
    }
  }

  void strMap(const char* key, std::map<std::string, std::string>& out) {
    const json* v = find(key, false, json::value_t::object, "an object of strings");
    if (!v) return;
    for (const auto& [k, e] : v->items()) {
      if (!e.is_string()) {
        fail(badType(std::string(key) + "." + k, "a string", e));
        return;
      }
      out[k] = e.get_ref<const std::string&>();
    }
  }

  void intMap(const char* key, std::map<std::string, std::int64_t>& out, std::int64_t lo,
              std::int64_t hi) {
    const json* v = find(key, false, json::value_t::object, "an object of integers");
    if (!v) return;
    for (const auto& [k, e] : v->items()) {
      std::int64_t n = 0;
      if (!checkInt(e, std::string(key) + "." + k, lo, hi, n)) return;
      out[k] = n;
    }
  }

  // Calls fn(Fields&) on a nested object; `required` false means absent is fine.
  template <typename Fn>
  bool object(const char* key, bool required, Fn&& fn) {
    const json* v = find(key, required, json::value_t::object, "an object");
    if (!v) return false;
    Fields sub(*v, type_, prefix_ + key + ".");
    fn(sub);
    if (sub.failed()) fail(sub.error());
    return !sub.failed();
  }

  // Calls fn(Fields&) on each object of an array.
  template <typename Fn>
  void objectList(const char* key, bool required, Fn&& fn) {
    const json* v = find(key, required, json::value_t::array, "an array of objects");
    if (!v) return;
    for (std::size_t i = 0; i < v->size() && !failed(); ++i) {
      const json& e = (*v)[i];
      if (!e.is_object()) {
        fail(badType(path(key, i), "an object", e));
        return;
      }
      Fields sub(e, type_, prefix_ + path(key, i) + ".");
      fn(sub);
      if (sub.failed()) fail(sub.error());
    }
  }

 private:
  std::string where(const std::string& key) const {
    return type_ + ": field \"" + prefix_ + key + "\": ";
  }
  static std::string path(const char* key, std::size_t i) {
    return std::string(key) + "[" + std::to_string(i) + "]";
  }
  Error badType(const std::string& key, const char* want, const json& got) const {
    return {errc::kBadField, where(key) + "must be " + want + ", got " + jsonTypeName(got)};
  }

  // Finds `key`; null counts as absent. Returns nullptr when absent or on error.
  const json* find(const char* key, bool required, json::value_t want, const char* want_name) {
    if (failed()) return nullptr;
    const auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      if (required) {
        fail({errc::kMissingField, type_ + ": missing field \"" + prefix_ + key + "\""});
      }
      return nullptr;
    }
    if (it->type() != want) {
      fail(badType(key, want_name, *it));
      return nullptr;
    }
    return &*it;
  }

  // Integers may arrive as any JSON number with an integral value (2000, 2000.0, 2e3):
  // peers that hold numbers as doubles cannot tell those spellings apart.
  bool checkInt(const json& v, const std::string& key, std::int64_t lo, std::int64_t hi,
                std::int64_t& out) {
    if (!v.is_number()) {
      fail(badType(key, "an integer", v));
      return false;
    }
    bool in_range = false;
    std::int64_t n = 0;
    if (v.is_number_unsigned()) {
      const std::uint64_t u = v.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(hi)) {  // hi >= 0 for every field
        n = static_cast<std::int64_t>(u);
        in_range = n >= lo;
      }
    } else if (v.is_number_integer()) {
      n = v.get<std::int64_t>();
      in_range = n >= lo && n <= hi;
    } else {
      const double d = v.get<double>();
      if (!std::isfinite(d) || std::trunc(d) != d) {
        fail(badType(key, "an integer", v));
        return false;
      }
      // |lo|, |hi| <= 2^53: the comparison is exact and the cast below cannot overflow.
      in_range = d >= static_cast<double>(lo) && d <= static_cast<double>(hi);
      if (in_range) n = static_cast<std::int64_t>(d);
    }
    if (!in_range) {
      fail({errc::kOutOfRange, where(key) + "must be " + std::to_string(lo) + ".." +
                                   std::to_string(hi) + ", got " + describe(v)});
      return false;
    }
    out = n;
    return true;
  }

  bool integer(const char* key, std::int64_t& out, std::int64_t lo, std::int64_t hi,
               bool required) {
    if (failed()) return false;
    const auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      if (required) {
        fail({errc::kMissingField, type_ + ": missing field \"" + prefix_ + key + "\""});
      }
      return false;
    }
    return checkInt(*it, key, lo, hi, out);
  }

  bool id(const char* key, std::uint64_t& out, bool required) {
    std::int64_t v = 0;
    if (!integer(key, v, 0, kMaxSafe, required)) return false;
    out = static_cast<std::uint64_t>(v);
    return true;
  }

  bool number(const char* key, double& out, double lo, double hi, bool required) {
    if (failed()) return false;
    const auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      if (required) {
        fail({errc::kMissingField, type_ + ": missing field \"" + prefix_ + key + "\""});
      }
      return false;
    }
    if (!it->is_number()) {
      fail(badType(key, "a number", *it));
      return false;
    }
    const double d = it->get<double>();
    if (!std::isfinite(d) || d < lo || d > hi) {
      fail({errc::kOutOfRange, where(key) + "must be a finite number in " + json(lo).dump() +
                                   ".." + json(hi).dump() + ", got " + describe(*it)});
      return false;
    }
    out = d;
    return true;
  }

  bool string(const char* key, std::string& out, bool required, bool non_empty) {
    const json* v = find(key, required, json::value_t::string, "a string");
    if (!v) return false;
    const auto& s = v->get_ref<const std::string&>();
    if (non_empty && s.empty()) {
      fail({errc::kOutOfRange, where(key) + "must not be empty"});
      return false;
    }
    out = s;
    return true;
  }

  bool boolean(const char* key, bool& out, bool required) {
    const json* v = find(key, required, json::value_t::boolean, "a boolean");
    if (!v) return false;
    out = v->get<bool>();
    return true;
  }

  const json& obj_;
  const std::string& type_;
  std::string prefix_;
  std::optional<Error> err_;
};

}  // namespace memvisor::proto::detail
