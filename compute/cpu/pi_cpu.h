// Monte Carlo pi on the CPU with the counter-based RNG of kernels/pi.h: the hit
// count for (samples, seed) is identical whatever the thread count or chunking,
// and identical to the GPU path.
#pragma once

#include <cstdint>
#include <functional>

#include "compute/common/particle_system.h"
#include "compute/common/run_control.h"
#include "compute/cpu/isa.h"

namespace impulse::cpu {

using ::impulse::PiCount;

// Called between chunks with the running totals (samples are done in order
// of sample index, so a partial count is the exact count of a prefix).
using PiProgressCallback = std::function<void(const PiCount& so_far)>;

// Counts hits among samples [0, samples) in the calling thread's TBB arena.
// On kCancelled, *out holds the exact count of the completed prefix.
RunOutcome CountPiHits(std::uint64_t samples, std::uint64_t seed,
                       const RunControl& control, PiCount* out,
                       const PiProgressCallback& on_chunk = {});

// Plain single-thread scalar loop: benchmark baseline and test oracle.
std::uint64_t CountPiHitsScalar(std::uint64_t samples, std::uint64_t seed);

namespace internal {

// Sum of kernels::PiBlockHits(b, seed) (two samples each) over blocks
// [first_block, first_block + num_blocks), single-threaded, compiled for `isa`
// (which must be supported; see IsaSupported). Exposed so tests can check every
// variant against the scalar loop.
std::uint64_t PiHitsInBlocks(Isa isa, std::uint64_t first_block,
                             std::uint64_t num_blocks, std::uint64_t seed);

}  // namespace internal

}  // namespace impulse::cpu
