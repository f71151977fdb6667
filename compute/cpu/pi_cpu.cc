#include "compute/cpu/pi_cpu.h"

#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "compute/common/parallel.h"
#include "compute/cpu/chunk_sizer.h"
#include "compute/kernels/philox.h"
#include "compute/kernels/pi.h"

namespace impulse::cpu {
namespace {

// Cost model for the first chunk (1e9 samples/s); later chunks use the
// measured rate.
constexpr double kPiBlocksPerSecond = 5e8;
// Smallest chunk, so a tiny chunk_seconds cannot make fork-join dominate.
constexpr std::uint64_t kMinChunkBlocks = 256;
// Smallest piece one thread takes within a chunk (~30 us of work).
constexpr std::uint64_t kMinGrainBlocks = 1 << 14;

// Philox round constants, as in kernels/philox.h.
constexpr std::uint32_t kM0 = 0xD2511F53u;
constexpr std::uint32_t kM1 = 0xCD9E8D57u;
constexpr std::uint32_t kW0 = 0x9E3779B9u;
constexpr std::uint32_t kW1 = 0xBB67AE85u;
constexpr int kRounds = 10;

// Vectors evaluated together so the multiplier latency is hidden.
constexpr int kVectors = 4;

std::uint64_t BlockHitsBaseline(std::uint64_t first, std::uint64_t count,
                                std::uint64_t seed) {
  std::uint64_t hits = 0;
  for (std::uint64_t b = first; b != first + count; ++b) {
    hits += kernels::PiBlockHits(b, seed);
  }
  return hits;
}

#if defined(__x86_64__)
// The SIMD variants evaluate kernels::Philox4x32 with one counter per 64-bit
// lane: each Philox word sits in the low half of a lane, so the 32x32->64-bit
// products of a round are a single vpmuludq (which reads only the low halves)
// and need no shuffles. The high halves hold garbage that is never read. The
// hit test is kernels::PiHitInside, also on vpmuludq: (w >> 1)^2 < 2^62.

// GCC 12's AVX-512 shift intrinsics trip a false -Wmaybe-uninitialized
// (_mm512_undefined_epi32, GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) std::uint64_t BlockHitsAvx512(
    std::uint64_t first, std::uint64_t count, std::uint64_t seed) {
  constexpr int kLanes = 8;
  __m512i k0[kRounds], k1[kRounds];
  std::uint32_t key0 = static_cast<std::uint32_t>(seed);
  std::uint32_t key1 = static_cast<std::uint32_t>(seed >> 32);
  for (int r = 0; r < kRounds; ++r, key0 += kW0, key1 += kW1) {
    k0[r] = _mm512_set1_epi64(key0);
    k1[r] = _mm512_set1_epi64(key1);
  }
  const __m512i m0 = _mm512_set1_epi64(kM0);
  const __m512i m1 = _mm512_set1_epi64(kM1);
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  __m512i inside = _mm512_setzero_si512();

  std::uint64_t b = first;
  const std::uint64_t end = first + count;
  for (; end - b >= kLanes * kVectors; b += kLanes * kVectors) {
    __m512i c0[kVectors], c1[kVectors], c2[kVectors], c3[kVectors];
    for (int v = 0; v < kVectors; ++v) {
      c0[v] = _mm512_add_epi64(lane, _mm512_set1_epi64(b + kLanes * v));
      c1[v] = _mm512_srli_epi64(c0[v], 32);
      c2[v] = _mm512_setzero_si512();
      c3[v] = _mm512_setzero_si512();
    }
    for (int r = 0; r < kRounds; ++r) {
      for (int v = 0; v < kVectors; ++v) {
        const __m512i p0 = _mm512_mul_epu32(c0[v], m0);
        const __m512i p1 = _mm512_mul_epu32(c2[v], m1);
        // 0x96: three-way xor.
        c0[v] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), c1[v],
                                          k0[r], 0x96);
        c2[v] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), c3[v],
                                          k1[r], 0x96);
        c1[v] = p1;
        c3[v] = p0;
      }
    }
    for (int v = 0; v < kVectors; ++v) {
      const __m512i x0 = _mm512_srli_epi32(c0[v], 1);
      const __m512i y0 = _mm512_srli_epi32(c1[v], 1);
      const __m512i x1 = _mm512_srli_epi32(c2[v], 1);
      const __m512i y1 = _mm512_srli_epi32(c3[v], 1);
      const __m512i r0 =
          _mm512_add_epi64(_mm512_mul_epu32(x0, x0), _mm512_mul_epu32(y0, y0));
      const __m512i r1 =
          _mm512_add_epi64(_mm512_mul_epu32(x1, x1), _mm512_mul_epu32(y1, y1));
      // r < 2^62 <=> (r >> 62) == 0; r < 2^63, so (r >> 62) ^ 1 is the hit.
      inside = _mm512_add_epi64(
          inside, _mm512_xor_si512(_mm512_srli_epi64(r0, 62), one));
      inside = _mm512_add_epi64(
          inside, _mm512_xor_si512(_mm512_srli_epi64(r1, 62), one));
    }
  }
  // Not _mm512_reduce_add_epi64: GCC 12's version warns
  // (-Wmaybe-uninitialized).
  alignas(64) std::uint64_t sums[kLanes];
  _mm512_store_si512(sums, inside);
  std::uint64_t hits = 0;
  for (std::uint64_t lane_hits : sums) hits += lane_hits;
  return hits + BlockHitsBaseline(b, end - b, seed);
}
#pragma GCC diagnostic pop

__attribute__((target("avx2"))) std::uint64_t BlockHitsAvx2(
    std::uint64_t first, std::uint64_t count, std::uint64_t seed) {
  constexpr int kLanes = 4;
  __m256i k0[kRounds], k1[kRounds];
  std::uint32_t key0 = static_cast<std::uint32_t>(seed);
  std::uint32_t key1 = static_cast<std::uint32_t>(seed >> 32);
  for (int r = 0; r < kRounds; ++r, key0 += kW0, key1 += kW1) {
    k0[r] = _mm256_set1_epi64x(key0);
    k1[r] = _mm256_set1_epi64x(key1);
  }
  const __m256i m0 = _mm256_set1_epi64x(kM0);
  const __m256i m1 = _mm256_set1_epi64x(kM1);
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i lane = _mm256_set_epi64x(3, 2, 1, 0);
  __m256i inside = _mm256_setzero_si256();

  std::uint64_t b = first;
  const std::uint64_t end = first + count;
  for (; end - b >= kLanes * kVectors; b += kLanes * kVectors) {
    __m256i c0[kVectors], c1[kVectors], c2[kVectors], c3[kVectors];
    for (int v = 0; v < kVectors; ++v) {
      c0[v] = _mm256_add_epi64(
          lane, _mm256_set1_epi64x(static_cast<long long>(b + kLanes * v)));
      c1[v] = _mm256_srli_epi64(c0[v], 32);
      c2[v] = _mm256_setzero_si256();
      c3[v] = _mm256_setzero_si256();
    }
    for (int r = 0; r < kRounds; ++r) {
      for (int v = 0; v < kVectors; ++v) {
        const __m256i p0 = _mm256_mul_epu32(c0[v], m0);
        const __m256i p1 = _mm256_mul_epu32(c2[v], m1);
        c0[v] = _mm256_xor_si256(
            _mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1[v]), k0[r]);
        c2[v] = _mm256_xor_si256(
            _mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3[v]), k1[r]);
        c1[v] = p1;
        c3[v] = p0;
      }
    }
    for (int v = 0; v < kVectors; ++v) {
      const __m256i x0 = _mm256_srli_epi32(c0[v], 1);
      const __m256i y0 = _mm256_srli_epi32(c1[v], 1);
      const __m256i x1 = _mm256_srli_epi32(c2[v], 1);
      const __m256i y1 = _mm256_srli_epi32(c3[v], 1);
      const __m256i r0 =
          _mm256_add_epi64(_mm256_mul_epu32(x0, x0), _mm256_mul_epu32(y0, y0));
      const __m256i r1 =
          _mm256_add_epi64(_mm256_mul_epu32(x1, x1), _mm256_mul_epu32(y1, y1));
      inside = _mm256_add_epi64(
          inside, _mm256_xor_si256(_mm256_srli_epi64(r0, 62), one));
      inside = _mm256_add_epi64(
          inside, _mm256_xor_si256(_mm256_srli_epi64(r1, 62), one));
    }
  }
  alignas(32) std::uint64_t sums[kLanes];
  _mm256_store_si256(reinterpret_cast<__m256i*>(sums), inside);
  std::uint64_t hits = 0;
  for (std::uint64_t lane_hits : sums) hits += lane_hits;
  return hits + BlockHitsBaseline(b, end - b, seed);
}
#endif  // __x86_64__

}  // namespace

namespace internal {

std::uint64_t PiHitsInBlocks(Isa isa, std::uint64_t first_block,
                             std::uint64_t num_blocks, std::uint64_t seed) {
  switch (isa) {
#if defined(__x86_64__)
    case Isa::kAvx512:
      return BlockHitsAvx512(first_block, num_blocks, seed);
    case Isa::kAvx2:
      return BlockHitsAvx2(first_block, num_blocks, seed);
#endif
    default:
      return BlockHitsBaseline(first_block, num_blocks, seed);
  }
}

}  // namespace internal

RunOutcome CountPiHits(std::uint64_t samples, std::uint64_t seed,
                       const RunControl& control, PiCount* out,
                       const PiProgressCallback& on_chunk) {
  const Isa isa = ActiveIsa();
  const std::uint64_t full_blocks = samples / kernels::kPiSamplesPerBlock;
  const bool odd_tail = samples % kernels::kPiSamplesPerBlock != 0;
  const std::uint64_t threads =
      static_cast<std::uint64_t>(tbb::this_task_arena::max_concurrency());

  // Chunks run in block order, so after each one `count` is the exact count of
  // the prefix [0, count.samples): the same numbers whatever the thread count
  // or chunk sizes, since integer sums do not depend on how they are split.
  PiCount count;
  internal::ChunkSizer sizer(control.chunk_seconds, kPiBlocksPerSecond,
                             kMinChunkBlocks);
  std::uint64_t next_block = 0;
  while (count.samples < samples) {
    if (control.cancelled()) {
      if (out != nullptr) *out = count;
      return RunOutcome::kCancelled;
    }
    const std::uint64_t chunk = sizer.Next(full_blocks - next_block);
    const std::uint64_t end = next_block + chunk;
    const auto start = std::chrono::steady_clock::now();
    const std::uint64_t grain =
        std::max(kMinGrainBlocks, chunk / (4 * threads));
    count.hits += parallel::SumRanges(
        next_block, end, grain, [&](std::uint64_t first, std::uint64_t last) {
          return internal::PiHitsInBlocks(isa, first, last - first, seed);
        });
    sizer.Record(chunk, internal::SecondsSince(start));
    next_block = end;
    count.samples = next_block * kernels::kPiSamplesPerBlock;
    if (next_block == full_blocks && odd_tail) {
      // The last block holds a single sample.
      count.hits += kernels::PiBlockHits(full_blocks, seed, /*count=*/1);
      count.samples += 1;
    }
    if (out != nullptr) *out = count;
    if (on_chunk) on_chunk(count);
  }
  if (out != nullptr) *out = count;
  return RunOutcome::kCompleted;
}

}  // namespace impulse::cpu
