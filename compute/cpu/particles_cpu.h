// Particle simulator on the CPU: structure of arrays, parallel over particles
// with oneTBB, vectorised inner loop, steps run in chunks between which cancel
// is checked and progress reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "compute/common/particle_system.h"
#include "compute/common/run_control.h"
#include "compute/cpu/isa.h"

namespace impulse::cpu {

using ::impulse::ParticleSystem;

// n particles with x, y, w uniform in [-1, 1), drawn from Philox with `seed`
// (the book's benchmark set-up). Deterministic for a given (n, seed).
ParticleSystem RandomParticles(std::uint32_t n, std::uint64_t seed);

// Called between chunks (never concurrently with the kernel, so it may read the
// system) with the number of steps completed so far.
using StepsDoneCallback = std::function<void(std::uint64_t steps_done)>;

// Runs `steps` steps of the book's integrator on every particle in the calling
// thread's TBB arena. Returns kCancelled if control.cancel was seen; the system
// then holds the state after the last completed chunk.
// The result is bit-identical to EvolveParticlesScalar whatever the thread
// count, chunking or instruction set.
RunOutcome EvolveParticles(ParticleSystem& system, double timestep,
                           std::uint64_t steps, const RunControl& control,
                           const StepsDoneCallback& on_chunk = {});

// Plain single-thread scalar loop of the same math, with the book's two
// divisions (bit-identical to the shared reciprocal of the SIMD variants; see
// kernels::DivideByReciprocal): the benchmark baseline and the test oracle.
void EvolveParticlesScalar(ParticleSystem& system, double timestep,
                           std::uint64_t steps);

namespace internal {

// The SIMD kernel behind EvolveParticles for one contiguous range of particles,
// single-threaded, compiled for `isa` (which must be supported; see
// IsaSupported). Exposed so tests can check every variant against the scalar
// loop.
void EvolveParticleRange(Isa isa, double* x, double* y, const double* w,
                         std::size_t n, double timestep, std::uint64_t steps);

}  // namespace internal

}  // namespace impulse::cpu
