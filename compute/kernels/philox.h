// Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3",
// SC'11): a counter-based RNG. Output depends only on (key, counter), so any
// split of the work across threads, chunks or GPU blocks yields the same
// stream.
#pragma once

#include <cstdint>

#include "compute/kernels/hd.h"

namespace impulse::kernels {

struct Philox4x32Block {
  std::uint32_t v[4];
};

IMPULSE_HD inline void PhiloxRound(std::uint32_t& c0, std::uint32_t& c1,
                                   std::uint32_t& c2, std::uint32_t& c3,
                                   std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint64_t kM0 = 0xD2511F53u;
  constexpr std::uint64_t kM1 = 0xCD9E8D57u;
  const std::uint64_t p0 = kM0 * c0;
  const std::uint64_t p1 = kM1 * c2;
  const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32);
  const std::uint32_t lo0 = static_cast<std::uint32_t>(p0);
  const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32);
  const std::uint32_t lo1 = static_cast<std::uint32_t>(p1);
  c0 = hi1 ^ c1 ^ k0;
  c1 = lo1;
  c2 = hi0 ^ c3 ^ k1;
  c3 = lo0;
}

// Ten rounds over the 128-bit counter (counter, 0) under the 64-bit key.
IMPULSE_HD inline Philox4x32Block Philox4x32(std::uint64_t counter,
                                             std::uint64_t key) {
  std::uint32_t c0 = static_cast<std::uint32_t>(counter);
  std::uint32_t c1 = static_cast<std::uint32_t>(counter >> 32);
  std::uint32_t c2 = 0;
  std::uint32_t c3 = 0;
  std::uint32_t k0 = static_cast<std::uint32_t>(key);
  std::uint32_t k1 = static_cast<std::uint32_t>(key >> 32);
  constexpr std::uint32_t kW0 = 0x9E3779B9u;
  constexpr std::uint32_t kW1 = 0xBB67AE85u;
#if defined(__CUDACC__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    PhiloxRound(c0, c1, c2, c3, k0, k1);
    k0 += kW0;
    k1 += kW1;
  }
  return {{c0, c1, c2, c3}};
}

}  // namespace impulse::kernels
