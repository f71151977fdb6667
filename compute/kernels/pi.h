// Monte Carlo pi: sample i is a point in the unit square; count the points
// inside the quarter circle. The hit test is pure integer arithmetic, so CPU,
// vectorised CPU and GPU give bit-identical counts (no FMA or rounding drift).
#pragma once

#include <cstdint>

#include "compute/kernels/hd.h"
#include "compute/kernels/philox.h"

namespace impulse::kernels {

// Each Philox block yields two samples; coordinates are 31-bit fixed point in
// [0, 1), so x^2 + y^2 < 2^63 fits in 64 bits and "inside" is x^2 + y^2 < 2^62.
inline constexpr std::uint64_t kPiSamplesPerBlock = 2;

IMPULSE_HD inline std::uint32_t PiHitInside(std::uint32_t rx,
                                            std::uint32_t ry) {
  const std::uint64_t x = rx >> 1;
  const std::uint64_t y = ry >> 1;
  return (x * x + y * y) < (std::uint64_t{1} << 62) ? 1u : 0u;
}

// Hits among the samples of block `block` (samples 2*block and 2*block+1);
// `count` is 2 except for the odd last sample of a run.
IMPULSE_HD inline std::uint32_t PiBlockHits(std::uint64_t block,
                                            std::uint64_t seed,
                                            std::uint32_t count = 2) {
  const Philox4x32Block r = Philox4x32(block, seed);
  std::uint32_t hits = PiHitInside(r.v[0], r.v[1]);
  if (count > 1) hits += PiHitInside(r.v[2], r.v[3]);
  return hits;
}

// pi ~= 4 * hits / samples.
IMPULSE_HD inline double PiEstimate(std::uint64_t hits, std::uint64_t samples) {
  return samples == 0
             ? 0.0
             : 4.0 * static_cast<double>(hits) / static_cast<double>(samples);
}

}  // namespace impulse::kernels
