// Protobuf's JSON mapping, both ways, as the REST gateway uses it: answers
// print every field (defaults included, lowerCamelCase names, enums by name,
// 64-bit integers as strings); requests reject unknown fields and name the
// offending one.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "compute/common/status.h"

namespace impulse::rest {

std::string ToJson(const google::protobuf::Message& message);

// Parses `json` into `out`. On failure, an INVALID_ARGUMENT whose field is
// `field_prefix` joined with the path protobuf reports (e.g. "spec.pi.samples")
// and whose message says what was wrong.
Status FromJson(std::string_view json, google::protobuf::Message* out,
                std::string_view field_prefix);

}  // namespace impulse::rest
