#include "server/rest/target.h"

namespace impulse::rest {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Error::InvalidArgument(
            "query", "malformed percent-escape in '" + std::string(text) + "'");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<Target> ParseTarget(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return Error::InvalidArgument("target",
                                  "request target must start with '/'");
  }
  Target out;
  const std::size_t question = target.find('?');
  out.path = std::string(target.substr(0, question));
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  // A fragment is never sent by clients, but ignore one if present.
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    Result<std::string> key = PercentDecode(pair.substr(0, eq));
    if (!key.ok()) return key.error();
    Result<std::string> value =
        PercentDecode(eq == std::string_view::npos ? std::string_view()
                                                   : pair.substr(eq + 1));
    if (!value.ok()) return value.error();
    out.query.emplace_back(std::move(key.value()), std::move(value.value()));
  }
  return out;
}

Error UnknownParameter(const std::string& name, std::string_view allowed) {
  return Error::InvalidArgument(
      name,
      "unknown query parameter; this route takes " + std::string(allowed));
}

}  // namespace impulse::rest
