// The word tokenizer (compute/analytics/tokenizer.h) that wordcount and the
// inverted index run over uploaded TEXT datasets, and the word count on top.
//
// Oracle (differential): the SSE2 ForEachWord and the byte-at-a-time
// ForEachWordScalar give the same words; every word is non-empty, valid
// UTF-8, free of ASCII non-letters and already lower-case (LowerText leaves
// it unchanged); lower-casing the text first gives the same words; the
// parallel CountWords agrees with CountWordsSimple.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compute/analytics/tokenizer.h"
#include "compute/analytics/wordcount.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using impulse::fuzz::Printable;
namespace analytics = impulse::analytics;

std::vector<std::string> Words(std::string_view text, bool scalar) {
  std::vector<std::string> words;
  std::string scratch;
  auto emit = [&](std::string_view w) { words.emplace_back(w); };
  if (scalar) {
    analytics::ForEachWordScalar(text, scratch, emit);
  } else {
    analytics::ForEachWord(text, scratch, emit);
  }
  return words;
}

bool ValidUtf8(std::string_view word) {
  const auto* s = reinterpret_cast<const unsigned char*>(word.data());
  for (std::size_t i = 0; i < word.size();) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    char32_t cp;
    const int len =
        analytics::tokenizer_internal::DecodeUtf8(s + i, word.size() - i, &cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> fast = Words(text, /*scalar=*/false);
  const std::vector<std::string> scalar = Words(text, /*scalar=*/true);
  FUZZ_CHECK(fast == scalar)
      << "SSE2 and scalar tokenizers disagree on '" << Printable(text) << "' ("
      << fast.size() << " vs " << scalar.size() << " words)";
  for (const std::string& word : fast) {
    FUZZ_CHECK(!word.empty()) << "empty word in '" << Printable(text) << "'";
    FUZZ_CHECK(ValidUtf8(word))
        << "word '" << Printable(word) << "' is not valid UTF-8";
    for (char c : word) {
      const auto u = static_cast<unsigned char>(c);
      FUZZ_CHECK(u >= 0x80 || (u >= 'a' && u <= 'z'))
          << "word '" << Printable(word) << "' holds ASCII non-letter "
          << int(u);
    }
    FUZZ_CHECK(analytics::LowerText(word) == word)
        << "word '" << Printable(word) << "' is not lower-case";
  }
  FUZZ_CHECK(analytics::Tokenize(analytics::LowerText(text)) == fast)
      << "lower-casing first changes the words of '" << Printable(text) << "'";

  analytics::WordCountOptions options;
  options.top_k = size % 5;  // 0 = every word
  impulse::Result<analytics::WordCountResult> counted =
      analytics::CountWords(text, options);
  FUZZ_CHECK(counted.ok()) << counted.error().ToString();
  const analytics::WordCountResult simple =
      analytics::CountWordsSimple(text, options);
  FUZZ_CHECK(counted.value().total_words == fast.size() &&
             simple.total_words == fast.size())
      << "word totals " << counted.value().total_words << " / "
      << simple.total_words << " but the tokenizer found " << fast.size();
  FUZZ_CHECK(counted.value().distinct_words == simple.distinct_words &&
             counted.value().words == simple.words)
      << "CountWords and CountWordsSimple disagree on '" << Printable(text)
      << "'";
  return 0;
}
