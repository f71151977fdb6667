#include "server/rest/json_errors.h"

#include <fmt/format.h>

#include "server/edge/error_mapping.h"

namespace impulse::rest {

std::string JsonQuote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string ErrorJson(std::string_view code, std::string_view message,
                      std::string_view field) {
  return fmt::format(R"({{"error":{{"code":{},"message":{},"field":{}}}}})",
                     JsonQuote(code), JsonQuote(message), JsonQuote(field));
}

Response JsonResponse(http::status status, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

Response TextResponse(http::status status, std::string body,
                      std::string_view content_type) {
  Response res{status, 11};
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  return res;
}

Response ErrorResponse(const Error& error) {
  Response res = JsonResponse(
      static_cast<http::status>(edge::ToHttpStatus(error.code)),
      ErrorJson(ErrorCodeName(error.code), error.message, error.field));
  if (const int seconds = edge::RetryAfterSeconds(error.code); seconds > 0) {
    res.set(http::field::retry_after, std::to_string(seconds));
  }
  if (error.code == ErrorCode::kUnauthenticated) {
    res.set(http::field::www_authenticate, "Bearer realm=\"impulse\"");
  }
  return res;
}

Response HttpErrorResponse(http::status status, std::string_view code,
                           std::string_view message) {
  return JsonResponse(status, ErrorJson(code, message, ""));
}

}  // namespace impulse::rest
