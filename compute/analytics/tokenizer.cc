#include "compute/analytics/tokenizer.h"

namespace impulse::analytics {
namespace tokenizer_internal {}  // namespace tokenizer_internal

std::string LowerText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = 0; i < text.size();) {
    if (s[i] < 0x80) {
      out.push_back(static_cast<char>(LowerCodepoint(s[i])));
      ++i;
      continue;
    }
    char32_t cp;
    const int len = tokenizer_internal::DecodeUtf8(s + i, text.size() - i, &cp);
    if (len == 0) {
      out.push_back(static_cast<char>(s[i]));
      ++i;
    } else {
      tokenizer_internal::AppendUtf8(LowerCodepoint(cp), &out);
      i += len;
    }
  }
  return out;
}

std::vector<std::string> Tokenize(std::string_view text) {
  std::vector<std::string> words;
  std::string scratch;
  ForEachWord(text, scratch,
              [&](std::string_view w) { words.emplace_back(w); });
  return words;
}

}  // namespace impulse::analytics
