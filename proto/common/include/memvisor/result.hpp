// Result<T>: the error-as-value type used at every boundary of memvisor (files, sockets,
// config). An Error carries a stable machine code and a human message with context that
// callers chain: "reading /proc/42/statm: No such file or directory".
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace memvisor {

struct Error {
  std::string code;     // stable, machine-readable (e.g. "missing_field", "enoent")
  std::string message;  // human-readable, with context

  // Returns a copy whose message is prefixed by `context: `.
  [[nodiscard]] Error wrap(const std::string& context) const {
    return Error{code, context + ": " + message};
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}   // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  [[nodiscard]] bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Result<void> okResult() { return Result<void>(); }

}  // namespace memvisor
