// Plain error and result types for compute/ (no gRPC here). The server maps an
// ErrorCode to gRPC and HTTP codes in exactly one place.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace impulse {

enum class ErrorCode {
  kInvalidArgument,     // bad input; `field` names it
  kNotFound,            // no such job or dataset
  kAlreadyExists,       // name or idempotency key conflict
  kFailedPrecondition,  // e.g. GPU requested on a machine without one
  kResourceExhausted,   // queue or quota full; retry later
  kCancelled,           // the job was cancelled
  kDeadlineExceeded,    // the job or call ran past its deadline
  kUnavailable,         // draining, or the store is down
  kUnauthenticated,     // no or unknown bearer token
  kInternal,            // a bug or an unexpected failure (CUDA error, I/O)
};

const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string field;  // dotted path of the offending field, when there is one

  static Error InvalidArgument(std::string field, std::string message) {
    return {ErrorCode::kInvalidArgument, std::move(message), std::move(field)};
  }
  // "field: message" when a field is named, else the message.
  std::string ToString() const;
};

// A value or an Error (std::expected is C++23).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace impulse
