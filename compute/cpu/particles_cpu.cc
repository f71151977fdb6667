#include "compute/cpu/particles_cpu.h"

#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cassert>
#include <chrono>

#include "compute/common/parallel.h"
#include "compute/cpu/chunk_sizer.h"
#include "compute/kernels/particles.h"
#include "compute/kernels/philox.h"

namespace impulse::cpu {
namespace {

// Cost model for the first chunk; later chunks use the measured rate.
constexpr double kParticleStepsPerSecond = 1e9;

// Particles advanced in lockstep per instruction set: four AVX-512 vectors, or
// four AVX2 / SSE2 vectors (16 registers there), enough independent chains to
// keep the divide/sqrt unit busy while each waits on its long step latency
// (sqrt, divide, then a multiply and two FMAs per quotient, then the update).
// Measured on an AVX-512 EPYC: 32 lanes ~20% faster than 16; 48 or 64 no
// better.
constexpr int kAvx512Lanes = 32;
constexpr int kAvx2Lanes = 16;
constexpr int kBaselineLanes = 8;
// Tasks split the particles at multiples of the widest group.
constexpr int kLanes = kAvx512Lanes;
static_assert(kLanes % kAvx2Lanes == 0 && kLanes % kBaselineLanes == 0);

// A parallel task covers at least 2 per thread and about this many lane groups
// (1024 particles), so large systems still balance across busy threads.
constexpr std::size_t kGroupsPerTask = 32;

// Runs `steps` steps on particles [0, n) with each group's x and y held in
// registers for all the steps. The arithmetic is kernels::ParticleStep, lane by
// lane; the file is built with -ffp-contract=off, so the only FMAs are the
// explicit ones in DivideByReciprocal and every variant rounds exactly like
// the scalar loop. Padding lanes sit at (1, 0) with w = 0 so they never
// produce NaNs.
template <int kWidth, kernels::NormDivision kDivision =
                          kernels::NormDivision::kSharedReciprocal>
[[gnu::always_inline]] inline void EvolveGroups(double* x, double* y,
                                                const double* w, std::size_t n,
                                                double timestep,
                                                std::uint64_t steps) {
  for (std::size_t first = 0; first < n; first += kWidth) {
    const std::size_t count = std::min<std::size_t>(kWidth, n - first);
    double xs[kWidth], ys[kWidth], ws[kWidth];
    for (int j = 0; j < kWidth; ++j) {
      const bool real = static_cast<std::size_t>(j) < count;
      xs[j] = real ? x[first + j] : 1.0;
      ys[j] = real ? y[first + j] : 0.0;
      ws[j] = real ? w[first + j] : 0.0;
    }
    for (std::uint64_t step = 0; step < steps; ++step) {
      for (int j = 0; j < kWidth; ++j) {
        kernels::ParticleStep<kDivision>(xs[j], ys[j], ws[j], timestep);
      }
    }
    for (std::size_t j = 0; j < count; ++j) {
      x[first + j] = xs[j];
      y[first + j] = ys[j];
    }
  }
}

// One copy of the loop per instruction set (GCC function multi-versioning by
// hand, so tests can call each variant); ActiveIsa() picks one at run time.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) void EvolveGroupsAvx512(
    double* x, double* y, const double* w, std::size_t n, double timestep,
    std::uint64_t steps) {
  EvolveGroups<kAvx512Lanes>(x, y, w, n, timestep, steps);
}

// AVX2 plus FMA: kernels::ParticleStep calls fma, which would otherwise be a
// libm call per lane and stop the loop vectorising.
__attribute__((target("avx2,fma"))) void EvolveGroupsAvx2(double* x, double* y,
                                                          const double* w,
                                                          std::size_t n,
                                                          double timestep,
                                                          std::uint64_t steps) {
  EvolveGroups<kAvx2Lanes>(x, y, w, n, timestep, steps);
}
#endif

// Baseline x86-64 has only 16 two-lane registers, so a narrower group avoids
// spilling, and no FMA instruction (fma would be a library call per lane), so
// it divides twice; the result is the same.
void EvolveGroupsBaseline(double* x, double* y, const double* w, std::size_t n,
                          double timestep, std::uint64_t steps) {
  EvolveGroups<kBaselineLanes, kernels::NormDivision::kPlain>(x, y, w, n,
                                                              timestep, steps);
}

// [-1, 1) from a 32-bit word; exact in double.
double SignedUnit(std::uint32_t word) {
  return static_cast<double>(word) * 0x1p-31 - 1.0;
}

}  // namespace

namespace internal {

void EvolveParticleRange(Isa isa, double* x, double* y, const double* w,
                         std::size_t n, double timestep, std::uint64_t steps) {
  switch (isa) {
#if defined(__x86_64__)
    case Isa::kAvx512:
      EvolveGroupsAvx512(x, y, w, n, timestep, steps);
      return;
    case Isa::kAvx2:
      EvolveGroupsAvx2(x, y, w, n, timestep, steps);
      return;
#endif
    default:
      EvolveGroupsBaseline(x, y, w, n, timestep, steps);
      return;
  }
}

}  // namespace internal

ParticleSystem RandomParticles(std::uint32_t n, std::uint64_t seed) {
  ParticleSystem system;
  system.x.resize(n);
  system.y.resize(n);
  system.w.resize(n);
  parallel::ForRanges(0, n, 4096, [&](std::uint32_t first, std::uint32_t last) {
    for (std::uint32_t i = first; i != last; ++i) {
      const kernels::Philox4x32Block r = kernels::Philox4x32(i, seed);
      system.x[i] = SignedUnit(r.v[0]);
      system.y[i] = SignedUnit(r.v[1]);
      system.w[i] = SignedUnit(r.v[2]);
    }
  });
  return system;
}

RunOutcome EvolveParticles(ParticleSystem& system, double timestep,
                           std::uint64_t steps, const RunControl& control,
                           const StepsDoneCallback& on_chunk) {
  const std::size_t n = system.size();
  assert(system.y.size() == n && system.w.size() == n);
  const Isa isa = ActiveIsa();

  // Split the particles into whole lane groups, one task each; every task runs
  // all the steps of a chunk, so there is one fork-join per chunk, not per
  // step.
  const std::size_t groups = (n + kLanes - 1) / kLanes;
  const std::size_t min_tasks =
      2 * static_cast<std::size_t>(tbb::this_task_arena::max_concurrency());
  const std::size_t tasks =
      std::min(groups, std::max(min_tasks, groups / kGroupsPerTask));
  auto task_begin = [&](std::size_t task) {
    return std::min(n, task * groups / tasks * kLanes);
  };

  internal::ChunkSizer sizer(
      control.chunk_seconds,
      kParticleStepsPerSecond /
          static_cast<double>(std::max<std::size_t>(n, 1)),
      /*min_units=*/1);
  std::uint64_t done = 0;
  while (done < steps) {
    if (control.cancelled()) return RunOutcome::kCancelled;
    const std::uint64_t chunk = sizer.Next(steps - done);
    const auto start = std::chrono::steady_clock::now();
    parallel::ForRanges(
        0, tasks, 1,
        [&](std::size_t first, std::size_t last) {
          for (std::size_t task = first; task != last; ++task) {
            const std::size_t begin = task_begin(task);
            internal::EvolveParticleRange(
                isa, system.x.data() + begin, system.y.data() + begin,
                system.w.data() + begin, task_begin(task + 1) - begin, timestep,
                chunk);
          }
        },
        parallel::Split::kEvenly);
    sizer.Record(chunk, internal::SecondsSince(start));
    done += chunk;
    if (on_chunk) on_chunk(done);
  }
  return RunOutcome::kCompleted;
}

}  // namespace impulse::cpu
