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

// The book's benchmark scaled to 1e9 particle-steps (1,000 particles,
// t_end 10): the bare-kernel side of bench/compare.sh's service-overhead
// check, the same work as a particles job {randomParticles: 1000, tEnd: 10}.
void BM_ParticlesBookScaled(benchmark::State& state) {
  const std::uint64_t steps =
      kernels::ParticleStepCount(10.0, kernels::kDefaultTimestep);
  const ParticleSystem start = RandomParticles(kBookParticles, kSeed);
  for (auto _ : state) {
    ParticleSystem system = start;
    EvolveParticles(system, kernels::kDefaultTimestep, steps, RunControl{});
    benchmark::DoNotOptimize(system.x.data());
  }
  SetParticleCounters(state, kBookParticles, steps);
  state.SetLabel(IsaName(ActiveIsa()));
}
BENCHMARK(BM_ParticlesBookScaled)->Unit(benchmark::kMillisecond)->UseRealTime();

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

// Pi with range(0) samples on every thread: 1e3 is the load generator's
// tiny job (what a service call costs next to its kernel), 1e6 and 1e8 the
// book's sizes for bench/compare.sh.
void BM_PiSamples(benchmark::State& state) {
  const auto samples = static_cast<std::uint64_t>(state.range(0));
  for (auto _ : state) {
    PiCount count;
    CountPiHits(samples, kSeed, RunControl{}, &count);
    benchmark::DoNotOptimize(count.hits);
  }
  state.counters["samples/s"] = benchmark::Counter(
      static_cast<double>(samples) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
  state.SetLabel(IsaName(ActiveIsa()));
}
BENCHMARK(BM_PiSamples)
    ->ArgName("samples")
    ->Arg(1'000)
    ->Arg(1'000'000)
    ->Arg(100'000'000)
    ->Unit(benchmark::kMicrosecond)
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
