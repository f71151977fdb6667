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
inline int DecodeUtf8(const unsigned char* s, std::size_t n, char32_t* cp) {
  const unsigned char c = s[0];
  if (c < 0xC2) return 0;  // continuation byte or overlong 2-byte lead
  if (c < 0xE0) {
    if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
    *cp = (char32_t{c & 0x1Fu} << 6) | (s[1] & 0x3Fu);
    return 2;
  }
  if (c < 0xF0) {
    if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
    const char32_t v = (char32_t{c & 0x0Fu} << 12) |
                       (char32_t{s[1] & 0x3Fu} << 6) | (s[2] & 0x3Fu);
    if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
        (s[3] & 0xC0) != 0x80) {
      return 0;
    }
    const char32_t v = (char32_t{c & 0x07u} << 18) |
                       (char32_t{s[1] & 0x3Fu} << 12) |
                       (char32_t{s[2] & 0x3Fu} << 6) | (s[3] & 0x3Fu);
    if (v < 0x10000 || v > 0x10FFFF) return 0;
    *cp = v;
    return 4;
  }
  return 0;
}

// Appends the UTF-8 encoding of cp.
inline void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace tokenizer_internal

// Whether a code point is a letter under the rules above.
constexpr bool IsWordLetter(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  }
  if (cp < 0x0100) {
    if (cp <= 0xBF) return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
    return cp != 0xD7 && cp != 0xF7;
  }
  if (cp < 0x0370) return true;
  if (cp < 0x1000) {
    switch (cp) {
      case 0x037E:
      case 0x0387:
      case 0x0589:
      case 0x05BE:
      case 0x05C0:
      case 0x05C3:
      case 0x05F3:
      case 0x05F4:
      case 0x060C:
      case 0x061B:
      case 0x061F:
      case 0x06D4:
      case 0x0964:
      case 0x0965:
        return false;
      default:
        break;
    }
    if (cp >= 0x055A && cp <= 0x055F) return false;
    if (cp >= 0x0660 && cp <= 0x066D) return false;  // digits + punctuation
    if (cp >= 0x06F0 && cp <= 0x06F9) return false;
    if (cp >= 0x0966 && cp <= 0x096F) return false;
    return true;
  }
  if (cp == 0x1680) return false;
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;
  if (cp >= 0x2E00 && cp <= 0x2E7F) return false;
  if (cp >= 0x3000 && cp <= 0x303F) return false;
  if (cp >= 0xE000 && cp <= 0xF8FF) return false;
  if (cp >= 0xFE00 && cp <= 0xFE1F) return false;
  if (cp >= 0xFE30 && cp <= 0xFE6F) return false;
  if (cp == 0xFEFF) return false;
  if (cp >= 0xFF01 && cp <= 0xFF20) return false;
  if (cp >= 0xFF3B && cp <= 0xFF40) return false;
  if (cp >= 0xFF5B && cp <= 0xFF65) return false;
  if (cp >= 0xFFF0 && cp <= 0xFFFF) return false;
  if (cp >= 0x1F000 && cp <= 0x1FAFF) return false;
  if (cp >= 0xE0000 && cp <= 0xE007F) return false;
  return true;
}

// Simple lower-case mapping under the rules above (identity elsewhere).
constexpr char32_t LowerCodepoint(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 0x20 : cp;
  if (cp < 0x0100) {
    return (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) ? cp + 0x20 : cp;
  }
  if (cp < 0x0180) {                  // Latin Extended-A
    if (cp == 0x0130) return 'i';     // İ
    if (cp == 0x0178) return 0x00FF;  // Ÿ
    if (cp <= 0x0137) return (cp % 2 == 0 && cp != 0x0130) ? cp + 1 : cp;
    if (cp >= 0x0139 && cp <= 0x0148) return cp % 2 == 1 ? cp + 1 : cp;
    if (cp >= 0x014A && cp <= 0x0177) return cp % 2 == 0 ? cp + 1 : cp;
    if (cp >= 0x0179 && cp <= 0x017E) return cp % 2 == 1 ? cp + 1 : cp;
    return cp;  // ĸ ŉ ſ and the lower-case letters
  }
  if (cp >= 0x0370 && cp < 0x0400) {  // Greek
    if (cp >= 0x0391 && cp <= 0x03A9 && cp != 0x03A2) return cp + 0x20;
    if (cp == 0x0386) return 0x03AC;
    if (cp >= 0x0388 && cp <= 0x038A) return cp + 0x25;
    if (cp == 0x038C) return 0x03CC;
    if (cp == 0x038E || cp == 0x038F) return cp + 0x3F;
    return cp;
  }
  if (cp >= 0x0400 && cp < 0x0530) {  // Cyrillic and Cyrillic Supplement
    if (cp <= 0x040F) return cp + 0x50;
    if (cp <= 0x042F) return cp + 0x20;
    if (cp < 0x0460) return cp;
    if (cp <= 0x0481 || (cp >= 0x048A && cp <= 0x04BF)) {
      return cp % 2 == 0 ? cp + 1 : cp;
    }
    if (cp == 0x04C0) return 0x04CF;
    if (cp >= 0x04C1 && cp <= 0x04CE) return cp % 2 == 1 ? cp + 1 : cp;
    if (cp >= 0x04D0) return cp % 2 == 0 ? cp + 1 : cp;
    return cp;
  }
  return cp;
}

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
          // Set by DecodeUtf8: the first pass decoded these bytes already
          // (initialised only so GCC need not prove that).
          char32_t cp = 0;
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
  auto emit_run = [&](std::size_t s, std::size_t t, bool special, bool high) {
    const std::string_view run(base + s, t - s);
    if (!special) {
      emit(run);
      return;
    }
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
  bool high = false;     // the current word has bytes >= 0x80
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
    std::uint64_t high_bits = 0;
    for (int j = 0; j < 4; ++j) {
      const __m128i b =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * j));
      const __m128i t = _mm_or_si128(b, k20);  // bytes >= 0x80 stay negative
      const __m128i letter =
          _mm_and_si128(_mm_cmpgt_epi8(t, ka), _mm_cmplt_epi8(t, kz));
      const __m128i upper = _mm_and_si128(
          letter, _mm_cmpeq_epi8(_mm_and_si128(b, k20), _mm_setzero_si128()));
      const auto hm = static_cast<std::uint32_t>(_mm_movemask_epi8(b));
      const auto lm = static_cast<std::uint32_t>(_mm_movemask_epi8(letter));
      const auto um = static_cast<std::uint32_t>(_mm_movemask_epi8(upper));
      word_bits |= std::uint64_t{lm | hm} << (16 * j);
      special_bits |= std::uint64_t{um | hm} << (16 * j);
      high_bits |= std::uint64_t{hm} << (16 * j);
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
        high = false;
      }
      const std::uint64_t from = cur < 64 ? ~0ull << cur : 0;
      const std::uint64_t m = ~word_bits & from;
      if (m == 0) {  // the word continues into the next block
        special |= (special_bits & from) != 0;
        high |= (high_bits & from) != 0;
        break;
      }
      const int end = __builtin_ctzll(m);
      const std::uint64_t span = from & ((1ull << end) - 1);
      special |= (special_bits & span) != 0;
      high |= (high_bits & span) != 0;
      emit_run(word_start, p + end, special, high);
      in_word = false;
      cur = end;
    }
  }
  if (in_word) emit_run(word_start, n, special, high);
#else
  ForEachWordScalar(text, scratch, emit);
#endif
}

// All words of text, lower-cased (convenience; allocates).
std::vector<std::string> Tokenize(std::string_view text);

}  // namespace impulse::analytics
