// GPU kernel benchmarks, each against the project's CPU path (oneTBB + SIMD,
// compute/cpu and compute/analytics) in the same run:
//   particles  1e6 particles, evolve(0.1) = 1e4 steps: 1e10 particle-steps
//   pi         1e10 samples
//   distance   N = 10,000 points: the full 10^8-entry matrix, copied to host
// GPU timings include the host<->device transfers of the job. Rates are
// wall-clock based (UseRealTime). Without a CUDA device the GPU benchmarks
// are skipped with a message (the CPU ones still run).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "compute/analytics/distance_matrix.h"
#include "compute/common/run_control.h"
#include "compute/common/status.h"
#include "compute/cpu/particles_cpu.h"
#include "compute/cpu/pi_cpu.h"
#include "compute/gpu/gpu.h"
#include "compute/kernels/particles.h"
#include "compute/kernels/philox.h"

namespace impulse {
namespace {

constexpr std::uint64_t kSeed = 2024;
constexpr std::uint32_t kParticles = 1000000;
const std::uint64_t kParticleSteps =
    kernels::ParticleStepCount(0.1, kernels::kDefaultTimestep);
constexpr std::uint64_t kPiSamples = 10000000000;
constexpr std::size_t kDistancePoints = 10000;

// A lease on the default pool, or a skip message when there is no GPU.
bool LeaseOrSkip(benchmark::State& state, gpu::StreamLease* lease) {
  auto pool = gpu::StreamPool::Default();
  if (!pool.ok()) {
    const std::string message =
        "no CUDA device found; GPU benchmark skipped (" + pool.error().message +
        ")";
    state.SkipWithError(message.c_str());
    return false;
  }
  *lease = pool.value()->Acquire();
  return true;
}

void SetItems(benchmark::State& state, std::uint64_t per_iteration,
              const char* name) {
  state.counters[name] =
      benchmark::Counter(static_cast<double>(per_iteration) *
                             static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

std::vector<double> RandomPoints(std::size_t n) {
  std::vector<double> points(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const kernels::Philox4x32Block r = kernels::Philox4x32(i, kSeed);
    points[2 * i] = static_cast<double>(r.v[0]) * 0x1.0p-32;
    points[2 * i + 1] = static_cast<double>(r.v[1]) * 0x1.0p-32;
  }
  return points;
}

// --- particles -------------------------------------------------------------

void BM_Particles_Gpu(benchmark::State& state) {
  gpu::StreamLease lease;
  if (!LeaseOrSkip(state, &lease)) return;
  const gpu::ParticleSystem start = cpu::RandomParticles(kParticles, kSeed);
  for (auto _ : state) {
    state.PauseTiming();
    gpu::ParticleSystem system = start;
    state.ResumeTiming();
    auto outcome = gpu::EvolveParticles(
        lease, system, kernels::kDefaultTimestep, kParticleSteps, RunControl{});
    if (!outcome.ok()) {
      state.SkipWithError(outcome.error().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(system.x.data());
  }
  SetItems(state, std::uint64_t{kParticles} * kParticleSteps,
           "particle_steps/s");
}
BENCHMARK(BM_Particles_Gpu)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Particles_Cpu(benchmark::State& state) {
  const cpu::ParticleSystem start = cpu::RandomParticles(kParticles, kSeed);
  for (auto _ : state) {
    state.PauseTiming();
    cpu::ParticleSystem system = start;
    state.ResumeTiming();
    cpu::EvolveParticles(system, kernels::kDefaultTimestep, kParticleSteps,
                         RunControl{});
    benchmark::DoNotOptimize(system.x.data());
  }
  SetItems(state, std::uint64_t{kParticles} * kParticleSteps,
           "particle_steps/s");
}
BENCHMARK(BM_Particles_Cpu)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

// --- pi --------------------------------------------------------------------

void BM_Pi_Gpu(benchmark::State& state) {
  gpu::StreamLease lease;
  if (!LeaseOrSkip(state, &lease)) return;
  gpu::PiCount count;
  for (auto _ : state) {
    auto outcome =
        gpu::CountPiHits(lease, kPiSamples, kSeed, RunControl{}, &count);
    if (!outcome.ok()) {
      state.SkipWithError(outcome.error().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(count.hits);
  }
  SetItems(state, kPiSamples, "samples/s");
  state.counters["hits"] = static_cast<double>(count.hits);
}
BENCHMARK(BM_Pi_Gpu)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Pi_Cpu(benchmark::State& state) {
  cpu::PiCount count;
  for (auto _ : state) {
    cpu::CountPiHits(kPiSamples, kSeed, RunControl{}, &count);
    benchmark::DoNotOptimize(count.hits);
  }
  SetItems(state, kPiSamples, "samples/s");
  state.counters["hits"] = static_cast<double>(count.hits);
}
BENCHMARK(BM_Pi_Cpu)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

// --- distance matrix -------------------------------------------------------

// Computed on the GPU and copied to host memory: each row block arrives in a
// pinned staging buffer and is handed to the callback (the measure).
void BM_DistanceMatrix_Gpu(benchmark::State& state) {
  gpu::StreamLease lease;
  if (!LeaseOrSkip(state, &lease)) return;
  const std::vector<double> points = RandomPoints(kDistancePoints);
  double sink = 0.0;
  for (auto _ : state) {
    Status status = gpu::StreamDistanceMatrix(
        lease, points, 2, 0, RunControl{},
        [&](std::size_t, std::size_t, std::span<const double> rows) -> Status {
          sink += rows.back();
          return {};
        });
    if (!status.ok()) {
      state.SkipWithError(status.error().ToString().c_str());
      return;
    }
  }
  benchmark::DoNotOptimize(sink);
  SetItems(state, std::uint64_t{kDistancePoints} * kDistancePoints,
           "distances/s");
}
BENCHMARK(BM_DistanceMatrix_Gpu)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same, and each block then copied out of the staging buffer into one
// ordinary (pageable) N x N vector on the calling thread, as a caller that
// keeps the whole matrix would.
void BM_DistanceMatrix_GpuIntoVector(benchmark::State& state) {
  gpu::StreamLease lease;
  if (!LeaseOrSkip(state, &lease)) return;
  const std::vector<double> points = RandomPoints(kDistancePoints);
  // Pages touched up front.
  std::vector<double> matrix(kDistancePoints * kDistancePoints, 0.0);
  for (auto _ : state) {
    Status status = gpu::StreamDistanceMatrix(
        lease, points, 2, 0, RunControl{},
        [&](std::size_t row_begin, std::size_t,
            std::span<const double> rows) -> Status {
          std::memcpy(matrix.data() + row_begin * kDistancePoints, rows.data(),
                      rows.size_bytes());
          return {};
        });
    if (!status.ok()) {
      state.SkipWithError(status.error().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(matrix.data());
  }
  SetItems(state, std::uint64_t{kDistancePoints} * kDistancePoints,
           "distances/s");
}
BENCHMARK(BM_DistanceMatrix_GpuIntoVector)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_DistanceMatrix_Cpu(benchmark::State& state) {
  const std::vector<double> points = RandomPoints(kDistancePoints);
  for (auto _ : state) {
    auto matrix = analytics::ComputeDistanceMatrix(points, 2);
    if (!matrix.ok()) {
      state.SkipWithError(matrix.error().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(matrix.value().data());
  }
  SetItems(state, std::uint64_t{kDistancePoints} * kDistancePoints,
           "distances/s");
}
BENCHMARK(BM_DistanceMatrix_Cpu)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace impulse

int main(int argc, char** argv) {
  const auto devices = impulse::gpu::DiscoverDevices();
  if (devices.empty()) {
    std::printf("gpu_bench: no CUDA device found (%s); GPU benchmarks skip\n",
                impulse::gpu::NoDeviceReason().c_str());
  }
  for (const auto& d : devices) {
    std::printf("gpu_bench: device %d: %s, %.1f GiB, sm_%d%d, %d SMs\n",
                d.index, d.name.c_str(), d.total_memory_bytes / 1073741824.0,
                d.compute_capability_major, d.compute_capability_minor,
                d.multiprocessors);
  }
  std::fflush(stdout);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
