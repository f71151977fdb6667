// The hand-written OpenAPI 3 description of the REST gateway, compiled into
// the binary and served at GET /v1/openapi.json.
#pragma once

#include <string_view>

namespace impulse::rest {

std::string_view OpenApiJson();

}  // namespace impulse::rest
