#include "compute/analytics/tokenizer.h"

namespace impulse::analytics {
namespace tokenizer_internal {
int DecodeUtf8(const unsigned char* s, std::size_t n, char32_t* cp) {
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

void AppendUtf8(char32_t cp, std::string* out) {
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

bool IsWordLetter(char32_t cp) {
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
      case 0x037E: case 0x0387: case 0x0589: case 0x05BE: case 0x05C0:
      case 0x05C3: case 0x05F3: case 0x05F4: case 0x060C: case 0x061B:
      case 0x061F: case 0x06D4: case 0x0964: case 0x0965:
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

char32_t LowerCodepoint(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 0x20 : cp;
  if (cp < 0x0100) {
    return (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) ? cp + 0x20 : cp;
  }
  if (cp < 0x0180) {  // Latin Extended-A
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
