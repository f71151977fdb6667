// CPU kernel benchmarks: the book's particle benchmark and Monte Carlo pi, each
// against its plain scalar loop in the same run. Rates are wall-clock based
// (UseRealTime), since the kernels run on every thread of the TBB arena.
#include <benchmark/benchmark.h>
#include <oneapi/tbb/task_arena.h>

#include <cstdint>

#include "compute/common/run_control.h"
#include "compute/cpu/isa.h"
#include "compute/cpu/particles_cpu.h"
#include "compute/cpu/pi_cpu.h"
#include "compute/kernels/particles.h"

namespace impulse::cpu {
namespace {

constexpr std::uint64_t kSeed = 2024;

// The book's benchmark: 1000 particles with x, y, w uniform in [-1, 1),
// evolve(0.1) = 10000 steps of 1e-5.
constexpr std::uint32_t kBookParticles = 1000;
const std::uint64_t kBookSteps =
    kernels::ParticleStepCount(0.1, kernels::kDefaultTimestep);

void SetParticleCounters(benchmark::State& state, std::uint64_t particles,
                         std::uint64_t steps) {
  state.counters["particle_steps/s"] =
      benchmark::Counter(static_cast<double>(particles * steps) *
                             static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

void BM_ParticlesBook(benchmark::State& state) {
  const ParticleSystem start = RandomParticles(kBookParticles, kSeed);
  for (auto _ : state) {
    ParticleSystem system = start;  // ~24 KB copy: negligible next to the run
    EvolveParticles(system, kernels::kDefaultTimestep, kBookSteps,
                    RunControl{});
    benchmark::DoNotOptimize(system.x.data());
  }
  SetParticleCounters(state, kBookParticles, kBookSteps);
  state.SetLabel(IsaName(ActiveIsa()));
}
BENCHMARK(BM_ParticlesBook)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ParticlesBookScalar(benchmark::State& state) {
  const ParticleSystem start = RandomParticles(kBookParticles, kSeed);
  for (auto _ : state) {
    ParticleSystem system = start;
    EvolveParticlesScalar(system, kernels::kDefaultTimestep, kBookSteps);
    benchmark::DoNotOptimize(system.x.data());
  }
  SetParticleCounters(state, kBookParticles, kBookSteps);
}
BENCHMARK(BM_ParticlesBookScalar)->Unit(benchmark::kMillisecond)->UseRealTime();

// A large system (1e5 particles x 1e4 steps = 1e9 particle-steps) in an arena
// of range(0) threads, to show scaling.
void BM_ParticlesLarge(benchmark::State& state) {
  constexpr std::uint32_t kParticles = 100000;
  constexpr std::uint64_t kSteps = 10000;
  const ParticleSystem start = RandomParticles(kParticles, kSeed);
  tbb::task_arena arena(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    ParticleSystem system = start;
    arena.execute([&] {
      EvolveParticles(system, kernels::kDefaultTimestep, kSteps, RunControl{});
    });
    benchmark::DoNotOptimize(system.x.data());
  }
  SetParticleCounters(state, kParticles, kSteps);
  state.SetLabel(IsaName(ActiveIsa()));
}
BENCHMARK(BM_ParticlesLarge)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(tbb::this_task_arena::max_concurrency())
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

constexpr std::uint64_t kPiSamples = 100'000'000;

void SetPiCounters(benchmark::State& state) {
  state.counters["samples/s"] = benchmark::Counter(
      static_cast<double>(kPiSamples) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

void BM_Pi(benchmark::State& state) {
  tbb::task_arena arena(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    PiCount count;
    arena.execute(
        [&] { CountPiHits(kPiSamples, kSeed, RunControl{}, &count); });
    benchmark::DoNotOptimize(count.hits);
  }
  SetPiCounters(state);
  state.SetLabel(IsaName(ActiveIsa()));
}
BENCHMARK(BM_Pi)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(tbb::this_task_arena::max_concurrency())
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_PiScalar(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(CountPiHitsScalar(kPiSamples, kSeed));
  }
  SetPiCounters(state);
}
BENCHMARK(BM_PiScalar)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace impulse::cpu

BENCHMARK_MAIN();
