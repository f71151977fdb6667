// Word tokeniser shared by wordcount and the inverted index.
//
// Rules:
//  * Text is UTF-8. A word is a maximal run of letters; everything else
//    separates words. Bytes that are not valid UTF-8 (stray continuation
//    bytes, truncated or overlong sequences, surrogates, > U+10FFFF) are
//    separators, one byte at a time.
//  * ASCII: letters are A-Z and a-z; digits, punctuation, controls and
//    whitespace are separators (so "don't" is "don" + "t", "mp3" is "mp").
//  * Non-ASCII (a deliberately simple rule, not full Unicode properties): a
//    code point >= U+0080 is a letter unless it lies in one of these
//    separator ranges: U+0080-U+00BF except ª µ º (Latin-1 controls,
//    punctuation, symbols, NBSP), × U+00D7, ÷ U+00F7, Greek ; and · (U+037E,
//    U+0387), Armenian/Hebrew/Arabic punctuation (U+055A-U+055F, U+0589,
//    U+05BE, U+05C0, U+05C3, U+05F3-U+05F4, U+060C, U+061B, U+061F,
//    U+066A-U+066D, U+06D4), Arabic-Indic and Devanagari digits
//    (U+0660-U+0669, U+06F0-U+06F9, U+0966-U+096F), danda (U+0964-U+0965),
//    Ogham space U+1680, U+2000-U+2BFF (spaces, dashes, quotes, general
//    punctuation, super/subscripts, currency, letterlike symbols, arrows,
//    maths, technical, box drawing, shapes, dingbats), U+2E00-U+2E7F,
//    U+3000-U+303F (CJK punctuation, ideographic space), U+E000-U+F8FF
//    (private use), U+FE00-U+FE1F, U+FE30-U+FE6F, U+FEFF (BOM), fullwidth
//    ASCII punctuation and digits (U+FF01-U+FF20, U+FF3B-U+FF40,
//    U+FF5B-U+FF65), U+FFF0-U+FFFF (specials incl. U+FFFD), U+1F000-U+1FAFF
//    (emoji and pictographs) and U+E0000-U+E007F (tags). Combining marks are
//    letters, so decomposed accents stay inside their word. CJK ideographs
//    are letters; a run of them is one word (no word segmentation).
//  * Lower-casing (simple 1:1 mappings only): ASCII, Latin-1 (À-Þ except ×),
//    Latin Extended-A (U+0100-U+017F, İ -> i, Ÿ -> ÿ), basic Greek (Α-Ω and
//    the tonos capitals; final sigma is kept), Cyrillic U+0400-U+04FF and
//    U+0500-U+052F. Other scripts are kept as they are. No Unicode
//    normalisation (NFC "é" and NFD "e\u0301" are different words).
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace impulse::analytics {

namespace tokenizer_internal {

// Per-byte class: 0 separator (ASCII non-letter), 1 lower-case ASCII letter,
// 2 upper-case ASCII letter, 3 byte >= 0x80 (start or part of a multi-byte
// sequence).
constexpr std::array<std::uint8_t, 256> MakeByteClass() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = (c >= 'a' && c <= 'z')   ? 1
           : (c >= 'A' && c <= 'Z') ? 2
           : (c >= 0x80)            ? 3
                                    : 0;
  }
  return t;
}
inline constexpr std::array<std::uint8_t, 256> kByteClass = MakeByteClass();

// Decodes one UTF-8 sequence starting at s[0] (s[0] >= 0x80) with n >= 1
// bytes available. Returns its length (2-4) and sets *cp, or 0 if invalid.
int DecodeUtf8(const unsigned char* s, std::size_t n, char32_t* cp);

// Appends the UTF-8 encoding of cp.
void AppendUtf8(char32_t cp, std::string* out);

}  // namespace tokenizer_internal

// Whether a code point is a letter under the rules above.
bool IsWordLetter(char32_t cp);

// Simple lower-case mapping under the rules above (identity elsewhere).
char32_t LowerCodepoint(char32_t cp);

// Lower-cases text code point by code point (invalid bytes are copied
// unchanged). Does not split: used for query terms and prefixes.
std::string LowerText(std::string_view text);

// Byte-at-a-time version of ForEachWord (below); same output.
template <typename Emit>
void ForEachWordScalar(std::string_view text, std::string& scratch,
                       Emit&& emit) {
  using tokenizer_internal::DecodeUtf8;
  using tokenizer_internal::kByteClass;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (true) {
    // Skip separators.
    for (;;) {
      if (i >= n) return;
      const std::uint8_t cls = kByteClass[s[i]];
      if (cls == 1 || cls == 2) break;
      if (cls == 0) {
        ++i;
        continue;
      }
      char32_t cp;
      const int len = DecodeUtf8(s + i, n - i, &cp);
      if (len > 0 && IsWordLetter(cp)) break;
      i += len > 0 ? len : 1;
    }
    const std::size_t start = i;
    bool simple = true;  // already lower-case: emit a view into text
    for (;;) {
      if (i >= n) break;
      const std::uint8_t cls = kByteClass[s[i]];
      if (cls == 1) {
        ++i;
        continue;
      }
      if (cls == 0) break;
      if (cls == 2) {
        simple = false;
        ++i;
        continue;
      }
      char32_t cp;
      const int len = DecodeUtf8(s + i, n - i, &cp);
      if (len == 0 || !IsWordLetter(cp)) break;
      if (LowerCodepoint(cp) != cp) simple = false;
      i += len;
    }
    if (simple) {
      emit(text.substr(start, i - start));
    } else {
      scratch.clear();
      for (std::size_t j = start; j < i;) {
        const unsigned char c = s[j];
        if (c < 0x80) {
          scratch.push_back(static_cast<char>(c | 0x20));  // letters only
          ++j;
        } else {
          char32_t cp;
          const int len = DecodeUtf8(s + j, i - j, &cp);
          tokenizer_internal::AppendUtf8(LowerCodepoint(cp), &scratch);
          j += len;
        }
      }
      emit(std::string_view(scratch));
    }
  }
}

// Calls emit(std::string_view word) for each word of `text`, in order, with
// the word lower-cased. The view is valid only during the call (it points
// into `text` when the word needed no change, else into `scratch`).
//
// Fast path: 64-byte blocks are classified with SSE2 into bit masks (ASCII
// letter, upper-case, byte >= 0x80), and words are cut at the ASCII
// non-letters with bit scans. A run that contains bytes >= 0x80 is handed to
// the scalar UTF-8 tokeniser; this is exact because ASCII non-letters always
// separate words and never occur inside a UTF-8 sequence.
template <typename Emit>
void ForEachWord(std::string_view text, std::string& scratch, Emit&& emit) {
#if defined(__SSE2__)
  const char* base = text.data();
  const std::size_t n = text.size();
  auto emit_run = [&](std::size_t s, std::size_t t, bool special) {
    const std::string_view run(base + s, t - s);
    if (!special) {
      emit(run);
      return;
    }
    bool high = false;
    for (char c : run) high |= static_cast<unsigned char>(c) >= 0x80;
    if (high) {
      ForEachWordScalar(run, scratch, emit);
      return;
    }
    scratch.resize(run.size());
    for (std::size_t i = 0; i < run.size(); ++i) scratch[i] = run[i] | 0x20;
    emit(std::string_view(scratch));
  };
  const __m128i k20 = _mm_set1_epi8(0x20);
  const __m128i ka = _mm_set1_epi8('a' - 1);
  const __m128i kz = _mm_set1_epi8('z' + 1);
  bool in_word = false;
  bool special = false;  // the current word has upper-case or high bytes
  std::size_t word_start = 0;
  alignas(16) char tail[64];
  for (std::size_t p = 0; p < n; p += 64) {
    const char* block = base + p;
    if (n - p < 64) {
      std::memset(tail, 0, sizeof(tail));  // NUL bytes are separators
      std::memcpy(tail, block, n - p);
      block = tail;
    }
    std::uint64_t word_bits = 0;
    std::uint64_t special_bits = 0;
    for (int j = 0; j < 4; ++j) {
      const __m128i b =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * j));
      const __m128i t = _mm_or_si128(b, k20);  // bytes >= 0x80 stay negative
      const __m128i letter =
          _mm_and_si128(_mm_cmpgt_epi8(t, ka), _mm_cmplt_epi8(t, kz));
      const __m128i upper = _mm_and_si128(
          letter, _mm_cmpeq_epi8(_mm_and_si128(b, k20), _mm_setzero_si128()));
      const auto high = static_cast<std::uint32_t>(_mm_movemask_epi8(b));
      const auto lm = static_cast<std::uint32_t>(_mm_movemask_epi8(letter));
      const auto um = static_cast<std::uint32_t>(_mm_movemask_epi8(upper));
      word_bits |= std::uint64_t{lm | high} << (16 * j);
      special_bits |= std::uint64_t{um | high} << (16 * j);
    }
    int cur = 0;
    while (true) {
      if (!in_word) {
        const std::uint64_t m = cur < 64 ? word_bits & (~0ull << cur) : 0;
        if (m == 0) break;
        cur = __builtin_ctzll(m);
        word_start = p + cur;
        in_word = true;
        special = false;
      }
      const std::uint64_t from = cur < 64 ? ~0ull << cur : 0;
      const std::uint64_t m = ~word_bits & from;
      if (m == 0) {  // the word continues into the next block
        special |= (special_bits & from) != 0;
        break;
      }
      const int end = __builtin_ctzll(m);
      special |= (special_bits & from & ((1ull << end) - 1)) != 0;
      emit_run(word_start, p + end, special);
      in_word = false;
      cur = end;
    }
  }
  if (in_word) emit_run(word_start, n, special);
#else
  ForEachWordScalar(text, scratch, emit);
#endif
}

// All words of text, lower-cased (convenience; allocates).
std::vector<std::string> Tokenize(std::string_view text);

}  // namespace impulse::analytics
