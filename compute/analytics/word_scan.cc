#include "compute/analytics/word_scan.h"

#include <bit>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "compute/cpu/isa.h"

namespace impulse::analytics::internal {
namespace {

// Appends base + the index of each set bit of `bits`, in order. Writes 8 (or
// 16) entries unconditionally and then advances by the true count, so a
// typical block (under 8 words) costs no unpredictable branch.
[[gnu::always_inline]] inline void AppendBitOffsets(std::uint64_t bits,
                                                    std::uint32_t base,
                                                    std::uint32_t* out,
                                                    std::size_t& size) {
  const int count = std::popcount(bits);
  std::uint32_t* p = out + size;
  for (int k = 0; k < 8; ++k) {
    p[k] = base + static_cast<std::uint32_t>(std::countr_zero(bits));
    bits &= bits - 1;
  }
  if (count > 8) {
    for (int k = 8; k < 16; ++k) {
      p[k] = base + static_cast<std::uint32_t>(std::countr_zero(bits));
      bits &= bits - 1;
    }
    for (int k = 16; k < count; ++k) {
      p[k] = base + static_cast<std::uint32_t>(std::countr_zero(bits));
      bits &= bits - 1;
    }
  }
  size += static_cast<std::size_t>(count);
}

// Records where runs of word bytes start and end in one 64-byte block whose
// word-byte mask is `word`.
[[gnu::always_inline]] inline void AppendRuns(std::uint64_t word,
                                              std::uint32_t base,
                                              ScanState& state) {
  const std::uint64_t before = (word << 1) | state.carry;  // previous byte
  state.carry = word >> 63;
  AppendBitOffsets(word & ~before, base, state.starts, state.num_starts);
  AppendBitOffsets(~word & before, base, state.ends, state.num_ends);
}

// The block loop shared by all variants: `classify(src, dst)` handles one
// 64-byte block and returns its word-byte mask. The last partial block is
// copied into a zero-filled buffer first (NUL is a separator).
template <typename Classify>
[[gnu::always_inline]] inline void ScanBlocks(const char* in, std::size_t n,
                                              char* out, std::uint32_t base,
                                              ScanState& state,
                                              Classify classify) {
  std::size_t b = 0;
  for (; b + 64 <= n; b += 64) {
    AppendRuns(classify(in + b, out + b), base + static_cast<std::uint32_t>(b),
               state);
  }
  if (b < n) {
    // Not on the stack: gcc 12 gives a 64-byte array 64-byte alignment and
    // zeroes it with an aligned AVX-512 store, which faulted on ASan's fake
    // stack (detect_stack_use_after_return) in the ASan CI stage.
    static thread_local char tail[64];
    std::memset(tail, 0, sizeof tail);
    std::memcpy(tail, in + b, n - b);
    AppendRuns(classify(tail, out + b), base + static_cast<std::uint32_t>(b),
               state);
  }
}

void ScanPiecePortable(const char* in, std::size_t n, char* out,
                       std::uint32_t base, ScanState& state) {
  ScanBlocks(in, n, out, base, state, [](const char* src, char* dst) {
    std::uint64_t word = 0;
    for (int i = 0; i < 64; ++i) {
      const auto c = static_cast<unsigned char>(src[i]);
      const std::uint8_t cls = tokenizer_internal::kByteClass[c];
      word |= std::uint64_t{cls != 0} << i;
      dst[i] = static_cast<char>(cls == 2 ? c | 0x20 : c);
    }
    return word;
  });
}

#if defined(__x86_64__)
// SSE2 and AVX2 have only signed byte compares: a byte t is in ['a', 'z'] iff
// min_epu8(t - 'a', 25) == t - 'a'. With t = b | 0x20 this finds letters of
// either case; bytes >= 0x80 are found by their sign bit.

void ScanPieceSse2(const char* in, std::size_t n, char* out, std::uint32_t base,
                   ScanState& state) {
  ScanBlocks(in, n, out, base, state, [](const char* src, char* dst) {
    const __m128i k20 = _mm_set1_epi8(0x20);
    const __m128i ka = _mm_set1_epi8('a');
    const __m128i k25 = _mm_set1_epi8(25);
    std::uint64_t word = 0;
    for (int j = 0; j < 4; ++j) {
      const __m128i b =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 * j));
      const __m128i t = _mm_or_si128(b, k20);
      const __m128i x = _mm_sub_epi8(t, ka);
      const __m128i letter = _mm_cmpeq_epi8(_mm_min_epu8(x, k25), x);
      // Lower-case: set 0x20 on letters only.
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16 * j),
                       _mm_or_si128(b, _mm_and_si128(letter, k20)));
      const auto m = static_cast<std::uint32_t>(_mm_movemask_epi8(letter) |
                                                _mm_movemask_epi8(b));
      word |= std::uint64_t{m} << (16 * j);
    }
    return word;
  });
}

__attribute__((target("avx2,bmi,bmi2,popcnt"))) void ScanPieceAvx2(
    const char* in, std::size_t n, char* out, std::uint32_t base,
    ScanState& state) {
  // Lambdas do not inherit the enclosing function's target: each names it.
  // The constants live inside them: captured, they would be 32/64-byte
  // aligned stack objects, which ASan's fake stack may misalign like the
  // tail block in ScanBlocks.
  auto classify_half = [](const char* src, char* dst)
                           __attribute__((target("avx2")))
                               ->std::uint32_t {
    const __m256i k20 = _mm256_set1_epi8(0x20);
    const __m256i ka = _mm256_set1_epi8('a');
    const __m256i k25 = _mm256_set1_epi8(25);
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
    const __m256i t = _mm256_or_si256(b, k20);
    const __m256i x = _mm256_sub_epi8(t, ka);
    const __m256i letter = _mm256_cmpeq_epi8(_mm256_min_epu8(x, k25), x);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst),
                        _mm256_or_si256(b, _mm256_and_si256(letter, k20)));
    return static_cast<std::uint32_t>(_mm256_movemask_epi8(letter) |
                                      _mm256_movemask_epi8(b));
  };
  ScanBlocks(
      in, n, out, base, state,
      [&](const char* src, char* dst)
          __attribute__((target("avx2,bmi,bmi2,popcnt"))) {
            const std::uint64_t lo = classify_half(src, dst);
            const std::uint64_t hi = classify_half(src + 32, dst + 32);
            return lo | (hi << 32);
          });
}

__attribute__((target("avx512f,avx512bw,bmi,bmi2,popcnt"))) void
ScanPieceAvx512(const char* in, std::size_t n, char* out, std::uint32_t base,
                ScanState& state) {
  // Constants inside the lambda, as in ScanPieceAvx2.
  ScanBlocks(
      in, n, out, base, state,
      [](const char* src, char* dst)
          __attribute__((target("avx512f,avx512bw,bmi,bmi2,popcnt"))) {
            const __m512i k20 = _mm512_set1_epi8(0x20);
            const __m512i ka = _mm512_set1_epi8('a');
            const __m512i k26 = _mm512_set1_epi8(26);
            const __m512i b = _mm512_loadu_si512(src);
            const __m512i t = _mm512_or_si512(b, k20);
            const __mmask64 letter =
                _mm512_cmplt_epu8_mask(_mm512_sub_epi8(t, ka), k26);
            _mm512_storeu_si512(dst, _mm512_mask_blend_epi8(letter, b, t));
            return static_cast<std::uint64_t>(letter | _mm512_movepi8_mask(b));
          });
}
#endif  // __x86_64__

}  // namespace

bool ScanVariantSupported(ScanVariant v) {
  switch (v) {
    case ScanVariant::kPortable:
      return true;
#if defined(__x86_64__)
    case ScanVariant::kSse2:
      return true;
    case ScanVariant::kAvx2:
      return cpu::IsaSupported(cpu::Isa::kAvx2) &&
             __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
             __builtin_cpu_supports("popcnt");
    case ScanVariant::kAvx512:
      return cpu::IsaSupported(cpu::Isa::kAvx512) &&
             __builtin_cpu_supports("avx512bw") &&
             ScanVariantSupported(ScanVariant::kAvx2);
#else
    case ScanVariant::kSse2:
    case ScanVariant::kAvx2:
    case ScanVariant::kAvx512:
      return false;
#endif
  }
  return false;
}

ScanVariant DefaultScanVariant() {
  static const ScanVariant variant = [] {
    const cpu::Isa isa = cpu::ActiveIsa();
    if (isa == cpu::Isa::kAvx512 &&
        ScanVariantSupported(ScanVariant::kAvx512)) {
      return ScanVariant::kAvx512;
    }
    if (isa != cpu::Isa::kScalar && ScanVariantSupported(ScanVariant::kAvx2)) {
      return ScanVariant::kAvx2;
    }
    if (ScanVariantSupported(ScanVariant::kSse2)) return ScanVariant::kSse2;
    return ScanVariant::kPortable;
  }();
  return variant;
}

const char* ScanVariantName(ScanVariant v) {
  switch (v) {
    case ScanVariant::kPortable:
      return "portable";
    case ScanVariant::kSse2:
      return "sse2";
    case ScanVariant::kAvx2:
      return "avx2";
    case ScanVariant::kAvx512:
      return "avx512";
  }
  return "unknown";
}

void ScanPiece(ScanVariant v, const char* in, std::size_t n, char* out,
               std::uint32_t base, ScanState& state) {
  switch (v) {
#if defined(__x86_64__)
    case ScanVariant::kAvx512:
      ScanPieceAvx512(in, n, out, base, state);
      return;
    case ScanVariant::kAvx2:
      ScanPieceAvx2(in, n, out, base, state);
      return;
    case ScanVariant::kSse2:
      ScanPieceSse2(in, n, out, base, state);
      return;
#endif
    default:
      ScanPiecePortable(in, n, out, base, state);
      return;
  }
}

}  // namespace impulse::analytics::internal
