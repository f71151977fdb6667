// Splits a request target into its path and its percent-decoded query
// parameters ("/v1/jobs?state=RUNNING&label=team%3Ablue").
#pragma once

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

}  // namespace impulse::rest
