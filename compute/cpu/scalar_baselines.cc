// The plain scalar loops behind EvolveParticlesScalar and CountPiHitsScalar:
// benchmark baselines and test oracles. This file is built without
// auto-vectorisation (see BUILD), so the baselines stay honest scalar code.
#include "compute/cpu/particles_cpu.h"
#include "compute/cpu/pi_cpu.h"
#include "compute/kernels/particles.h"
#include "compute/kernels/pi.h"

namespace impulse::cpu {

void EvolveParticlesScalar(ParticleSystem& system, double timestep,
                           std::uint64_t steps) {
  const std::size_t n = system.size();
  for (std::uint64_t step = 0; step < steps; ++step) {
    for (std::size_t i = 0; i < n; ++i) {
      // The book's two divisions: no FMA in baseline x86-64, and an oracle
      // independent of the SIMD variants' shared-reciprocal division.
      kernels::ParticleStep<kernels::NormDivision::kPlain>(
          system.x[i], system.y[i], system.w[i], timestep);
    }
  }
}

std::uint64_t CountPiHitsScalar(std::uint64_t samples, std::uint64_t seed) {
  const std::uint64_t full_blocks = samples / kernels::kPiSamplesPerBlock;
  std::uint64_t hits = 0;
  for (std::uint64_t block = 0; block < full_blocks; ++block) {
    hits += kernels::PiBlockHits(block, seed);
  }
  if (samples % kernels::kPiSamplesPerBlock != 0) {
    hits += kernels::PiBlockHits(full_blocks, seed, /*count=*/1);
  }
  return hits;
}

}  // namespace impulse::cpu
