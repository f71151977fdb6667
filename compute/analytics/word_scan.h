// Internal: the word scanner behind CountWords. Same words as ForEachWord
// (tokenizer.h), found in a different order of work so that the per-word cost
// is small and mostly free of unpredictable branches:
//
//  1. Classify (SIMD, picked at run time: AVX-512BW, AVX2, SSE2 or portable
//     C++): each 64-byte block of the text gives a bit mask of "word bytes"
//     (ASCII letters and bytes >= 0x80), and is written lower-cased (ASCII
//     only) into a buffer of the caller's. The starts and ends of the runs of
//     word bytes are turned into two arrays of offsets with bit scans.
//  2. For each run: a run of at most 16 bytes is loaded as two 64-bit words
//     (masked to its length) that are at the same time its hash-table key and
//     the test for bytes >= 0x80. A run without such bytes is a word as it is.
//     A run with them goes through the exact UTF-8 rules (ScanUtf8Run), which
//     split it and lower-case it in place.
//
// This is exact for the same reason as ForEachWord's fast path: ASCII
// non-letters always separate words and never occur inside a UTF-8 sequence.
// Not part of the public API.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "compute/analytics/tokenizer.h"

namespace impulse::analytics::internal {

// Words of at most this many bytes (after lower-casing) come with their bytes
// in a ShortKey.
inline constexpr std::size_t kShortWord = 16;

// The bytes of a short word, zero padded, as two 64-bit loads (memory order,
// so the key is the same on any endianness for a given machine).
struct ShortKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
};

namespace scan_internal {

inline std::uint64_t Load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// kKeyMask[n] keeps the first n (0-16) bytes of a 16-byte load.
struct KeyMask {
  std::uint64_t m0;
  std::uint64_t m1;
};
constexpr std::uint64_t PrefixMask(std::size_t n) {  // first n of 8 bytes
  std::array<unsigned char, 8> b{};
  for (std::size_t i = 0; i < n && i < 8; ++i) b[i] = 0xFF;
  return std::bit_cast<std::uint64_t>(b);
}
constexpr std::array<KeyMask, kShortWord + 1> MakeKeyMasks() {
  std::array<KeyMask, kShortWord + 1> t{};
  for (std::size_t n = 0; n <= kShortWord; ++n) {
    t[n] = {PrefixMask(n), PrefixMask(n > 8 ? n - 8 : 0)};
  }
  return t;
}
inline constexpr std::array<KeyMask, kShortWord + 1> kKeyMask = MakeKeyMasks();

constexpr std::uint64_t kHighBits = 0x8080808080808080ull;

// Reads 16 bytes at p (they must be readable) and keeps the first n <= 16.
inline ShortKey LoadKey(const char* p, std::size_t n) {
  return {Load64(p) & kKeyMask[n].m0, Load64(p + 8) & kKeyMask[n].m1};
}

inline bool HasHighByte(const char* p, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (Load64(p + i) & kHighBits) return true;
  }
  for (; i < n; ++i) {
    if (static_cast<unsigned char>(p[i]) >= 0x80) return true;
  }
  return false;
}

// For the two-byte UTF-8 code points U+0080-U+07FF: the lower-case code point
// if it is a letter, else 0 (a separator). Covers Latin-1, Latin Extended,
// Greek and Cyrillic, the common non-ASCII letters, without a decode call.
constexpr std::array<std::uint16_t, 0x800> MakeLower2() {
  std::array<std::uint16_t, 0x800> t{};
  for (char32_t cp = 0x80; cp < 0x800; ++cp) {
    t[cp] =
        IsWordLetter(cp) ? static_cast<std::uint16_t>(LowerCodepoint(cp)) : 0;
  }
  return t;
}
inline constexpr std::array<std::uint16_t, 0x800> kLower2 = MakeLower2();

}  // namespace scan_internal

// Which classify kernel to use. kPortable is plain C++ (any CPU); the others
// need x86-64 (SSE2 is always there) and the named extensions.
enum class ScanVariant { kPortable, kSse2, kAvx2, kAvx512 };

bool ScanVariantSupported(ScanVariant v);
// The fastest supported variant, capped by cpu::ActiveIsa() (so
// IMPULSE_CPU_ISA=scalar or avx2 selects a lower one).
ScanVariant DefaultScanVariant();
const char* ScanVariantName(ScanVariant v);

// Bytes of the scanner's lowered copy for a text of n bytes (whole 64-byte
// blocks plus 16 readable bytes after the last).
constexpr std::size_t LoweredBytes(std::size_t n) {
  return (n + 63) / 64 * 64 + kShortWord;
}

// State carried from one piece of text to the next.
struct ScanState {
  std::uint32_t* starts = nullptr;  // offsets of run starts
  std::uint32_t* ends = nullptr;    // offsets of run ends (one past)
  std::size_t num_starts = 0;
  std::size_t num_ends = 0;
  std::uint64_t carry = 0;  // 1 if the previous byte was a word byte
};

// Pieces handed to ScanPiece: small enough that their lowered bytes are
// still in L1 when the words are counted.
inline constexpr std::size_t kScanPieceBytes = 4096;
// Capacity needed for ScanState::starts and ::ends (a piece has at most one
// run start per two bytes; the bit-scan loops write up to 8 entries past the
// end of what they found).
inline constexpr std::size_t kScanOffsetsCapacity = kScanPieceBytes / 2 + 64;

// Classifies in[0, n) (n <= kScanPieceBytes; only the last piece of a text
// may have n % 64 != 0), writes it lower-cased (ASCII) to out[0, round up
// (n, 64)) and appends base + offset of each run start and end to the state.
void ScanPiece(ScanVariant v, const char* in, std::size_t n, char* out,
               std::uint32_t base, ScanState& state);

// Splits run[0, n) (a run of ASCII letters, already lower-case, and bytes
// >= 0x80, with 16 readable bytes after it) into words by the UTF-8 rules,
// lower-cases them in place (a lower-case form is never longer) and calls
// emit(const char* word, std::size_t len, ShortKey key) for each.
template <typename Emit>
void ScanUtf8Run(char* run, std::size_t n, Emit& emit) {
  using scan_internal::kHighBits;
  using scan_internal::kLower2;
  using scan_internal::Load64;
  using scan_internal::LoadKey;
  auto* s = reinterpret_cast<unsigned char*>(run);
  std::size_t i = 0;           // read position
  std::size_t w = 0;           // write position (w <= i)
  std::size_t word_start = 0;  // in write positions
  auto end_word = [&] {
    const std::size_t len = w - word_start;
    if (len > 0) {
      const char* word = run + word_start;
      emit(word, len, len <= kShortWord ? LoadKey(word, len) : ShortKey{});
    }
  };
  while (true) {
    // Skip to the next byte >= 0x80, 8 bytes at a time (the run has 16
    // readable bytes after it; bits past its end are masked off). The ASCII
    // letters passed over are already lower-case and, unless İ -> i shrank
    // the word, already in place.
    std::size_t j = i;
    while (j < n) {
      std::uint64_t high = Load64(run + j) & kHighBits;
      if (n - j < 8) high &= scan_internal::kKeyMask[n - j].m0;
      if (high != 0) {
        j += static_cast<std::size_t>(std::countr_zero(high)) / 8;
        break;
      }
      j += 8;
    }
    if (j > n) j = n;
    if (w != i) std::memmove(s + w, s + i, j - i);
    w += j - i;
    i = j;
    if (i == n) break;
    const unsigned char c = s[i];
    if (c >= 0xC2 && c < 0xE0 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
      const std::uint16_t lower =
          kLower2[((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu)];
      i += 2;
      if (lower == 0) {
        end_word();
        w = word_start = i;       // the next word starts where it is
      } else if (lower < 0x80) {  // İ -> i
        s[w++] = static_cast<unsigned char>(lower);
      } else {
        s[w++] = static_cast<unsigned char>(0xC0 | (lower >> 6));
        s[w++] = static_cast<unsigned char>(0x80 | (lower & 0x3F));
      }
      continue;
    }
    char32_t cp;
    const int len = tokenizer_internal::DecodeUtf8(s + i, n - i, &cp);
    if (len == 0 || !IsWordLetter(cp)) {
      end_word();
      i += len > 0 ? len : 1;
      w = word_start = i;
      continue;
    }
    // Three- and four-byte letters (U+0800 and up) have no lower-case
    // mapping under the tokeniser's rules: copy them.
    if (w != i) std::memmove(s + w, s + i, static_cast<std::size_t>(len));
    w += len;
    i += len;
  }
  end_word();
}

// Reusable buffers of one scanning thread.
struct ScanBuffers {
  std::vector<char> lowered;
  std::vector<std::uint32_t> starts;
  std::vector<std::uint32_t> ends;
};

// Longest text scanned in one part (the offsets are 32-bit).
inline constexpr std::size_t kMaxScanBytes = std::size_t{1} << 31;

namespace scan_internal {

// ScanWords' emit calls from ForEachWord, for a word longer than
// kMaxScanBytes (no place to cut the text).
template <typename Emit>
void EmitFromForEachWord(std::string_view text, Emit& emit) {
  std::string scratch;
  ForEachWord(text, scratch, [&](std::string_view w) {
    char padded[2 * kShortWord] = {};
    if (w.size() <= kShortWord) std::memcpy(padded, w.data(), w.size());
    emit(w.data(), w.size(),
         w.size() <= kShortWord ? LoadKey(padded, w.size()) : ShortKey{});
  });
}

// ScanWords for a text of at most kMaxScanBytes.
template <typename Emit>
void ScanWordsPart(std::string_view text, ScanBuffers& buffers, Emit& emit,
                   ScanVariant variant) {
  const std::size_t n = text.size();
  if (n == 0) return;
  if (buffers.lowered.size() < LoweredBytes(n)) {
    buffers.lowered.resize(LoweredBytes(n));
  }
  buffers.starts.resize(kScanOffsetsCapacity);
  buffers.ends.resize(kScanOffsetsCapacity);
  char* const out = buffers.lowered.data();
  ScanState state;
  state.starts = buffers.starts.data();
  state.ends = buffers.ends.data();
  auto run = [&](std::size_t start, std::size_t end) {
    char* word = out + start;
    const std::size_t len = end - start;
    if (len <= kShortWord) {
      const ShortKey key = LoadKey(word, len);
      if (((key.k0 | key.k1) & kHighBits) == 0) {
        emit(static_cast<const char*>(word), len, key);
        return;
      }
    } else if (!HasHighByte(word, len)) {
      emit(static_cast<const char*>(word), len, ShortKey{});
      return;
    }
    ScanUtf8Run(word, len, emit);
  };
  for (std::size_t p = 0; p < n; p += kScanPieceBytes) {
    const std::size_t m = std::min(kScanPieceBytes, n - p);
    ScanPiece(variant, text.data() + p, m, out + p,
              static_cast<std::uint32_t>(p), state);
    for (std::size_t i = 0; i < state.num_ends; ++i) {
      run(state.starts[i], state.ends[i]);
    }
    // A run still open at the end of the piece continues in the next one.
    if (state.num_starts > state.num_ends) {
      state.starts[0] = state.starts[state.num_ends];
      state.num_starts = 1;
    } else {
      state.num_starts = 0;
    }
    state.num_ends = 0;
  }
  if (state.num_starts > 0) run(state.starts[0], n);  // n % 64 == 0
}

}  // namespace scan_internal

// Calls emit(const char* word, std::size_t len, ShortKey key) for each word of
// text, in order, with the same words as ForEachWord: lower-cased, the pointer
// valid only during the call. key holds the word's bytes when len <=
// kShortWord (else it is zero). Texts over max_bytes are scanned in parts cut
// at ASCII separators (max_bytes is a parameter for the tests).
template <typename Emit>
void ScanWords(std::string_view text, ScanBuffers& buffers, Emit&& emit,
               ScanVariant variant = DefaultScanVariant(),
               std::size_t max_bytes = kMaxScanBytes) {
  max_bytes = std::clamp<std::size_t>(max_bytes, 1, kMaxScanBytes);
  while (text.size() > max_bytes) {
    std::size_t cut = max_bytes;
    while (
        cut < text.size() &&
        tokenizer_internal::kByteClass[static_cast<unsigned char>(text[cut])] !=
            0) {
      ++cut;
    }
    if (cut == text.size()) {  // one word to the end: no 32-bit offsets
      scan_internal::EmitFromForEachWord(text, emit);
      return;
    }
    scan_internal::ScanWordsPart(text.substr(0, cut), buffers, emit, variant);
    text.remove_prefix(cut);
  }
  scan_internal::ScanWordsPart(text, buffers, emit, variant);
}

}  // namespace impulse::analytics::internal
