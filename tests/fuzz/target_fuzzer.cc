// The REST request-target parser (server/rest/target.cc): path and
// percent-decoded query parameters. Oracle: no crash; a parsed target keeps
// the path as sent; re-encoding the decoded parameters and parsing again
// gives the same parameters; PercentDecode of text without '%' or '+' is the
// identity.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/rest/target.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using impulse::fuzz::Printable;

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                       c == '.' || c == '~';
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  impulse::Result<std::string> decoded = impulse::rest::PercentDecode(text);
  if (text.find_first_of("%+") == std::string_view::npos) {
    FUZZ_CHECK(decoded.ok() && decoded.value() == text)
        << "'" << Printable(text) << "' has no escapes but did not decode "
        << "to itself";
  }
  if (decoded.ok()) {
    FUZZ_CHECK(decoded.value().size() <= text.size())
        << "decoding grew '" << Printable(text) << "'";
  }

  impulse::Result<impulse::rest::Target> target =
      impulse::rest::ParseTarget(text);
  if (!target.ok()) {
    FUZZ_CHECK(target.error().code == impulse::ErrorCode::kInvalidArgument)
        << target.error().ToString();
    return 0;
  }
  const impulse::rest::Target& parsed = target.value();
  FUZZ_CHECK(!parsed.path.empty() && parsed.path.front() == '/' &&
             text.starts_with(parsed.path))
      << "path '" << Printable(parsed.path) << "' of '" << Printable(text)
      << "'";

  std::string again = parsed.path + "?";
  for (const auto& [key, value] : parsed.query) {
    if (key.empty() && value.empty()) continue;  // "&=&" pairs
    again += PercentEncode(key) + "=" + PercentEncode(value) + "&";
  }
  impulse::Result<impulse::rest::Target> reparsed =
      impulse::rest::ParseTarget(again);
  FUZZ_CHECK(reparsed.ok())
      << "re-encoded target '" << Printable(again) << "' did not parse";
  std::size_t i = 0;
  for (const auto& [key, value] : parsed.query) {
    if (key.empty() && value.empty()) continue;
    FUZZ_CHECK(i < reparsed.value().query.size() &&
               reparsed.value().query[i].first == key &&
               reparsed.value().query[i].second == value)
        << "parameter " << i << " of '" << Printable(text)
        << "' changed after re-encoding";
    ++i;
  }
  FUZZ_CHECK(i == reparsed.value().query.size()) << "parameter count changed";
  return 0;
}
