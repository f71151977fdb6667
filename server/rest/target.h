// Splits a request target into its path and its percent-decoded query
// parameters ("/v1/jobs?state=RUNNING&label=team%3Ablue").
#pragma once

#include <charconv>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compute/common/status.h"

namespace impulse::rest {

struct Target {
  std::string path;  // as sent (not decoded)
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
};

// INVALID_ARGUMENT on a bad %-escape or a target that is not origin-form.
Result<Target> ParseTarget(std::string_view target);

// Decodes %XX escapes and '+' (a space in query strings); INVALID_ARGUMENT
// on a malformed escape.
Result<std::string> PercentDecode(std::string_view text);

// A query parameter (or header) that must be a whole integer of type Int;
// INVALID_ARGUMENT naming `field` otherwise.
template <typename Int>
Result<Int> ParseInt(std::string_view text, const std::string& field) {
  Int value{};
  auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Error::InvalidArgument(
        field,
        "'" + std::string(text.substr(0, 64)) + "' is not a valid " +
            (std::numeric_limits<Int>::is_signed ? "integer"
                                                 : "non-negative integer"));
  }
  return value;
}

// INVALID_ARGUMENT for a query parameter the route does not take, listing
// those it does.
Error UnknownParameter(const std::string& name, std::string_view allowed);

}  // namespace impulse::rest
