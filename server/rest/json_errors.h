// Error answers of the REST gateway. Every error body has one shape:
//   {"error":{"code":"INVALID_ARGUMENT","message":"...","field":"spec.pi.samples"}}
// Job API errors (impulse::Error) take their status and Retry-After from
// server/edge, the one mapping shared with gRPC; HTTP-level errors (405, 408,
// 413, 431) use their own code names.
#pragma once

#include <string>
#include <string_view>

#include "compute/common/status.h"
#include "server/rest/http_types.h"

namespace impulse::rest {

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

std::string ErrorJson(std::string_view code, std::string_view message,
                      std::string_view field);

// Status from edge::ToHttpStatus, Retry-After from edge::RetryAfterSeconds,
// WWW-Authenticate on a 401.
Response ErrorResponse(const Error& error);

// An error that is about HTTP itself rather than the job API.
Response HttpErrorResponse(http::status status, std::string_view code,
                           std::string_view message);

Response JsonResponse(http::status status, std::string body);
Response TextResponse(http::status status, std::string body,
                      std::string_view content_type = "text/plain");

}  // namespace impulse::rest
