// Particle simulator on the GPU: one thread per particle keeps its position in
// registers for all the steps of a chunk, with the book's arithmetic from
// kernels::ParticleStep (double precision; built with --fmad=false so the
// result matches the CPU's unfused arithmetic).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "compute/gpu/cuda_util.cuh"
#include "compute/gpu/gpu.h"
#include "compute/kernels/particles.h"

namespace impulse::gpu {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    EvolveKernel(double* __restrict__ x, double* __restrict__ y,
                 const double* __restrict__ w, std::uint64_t n, double timestep,
                 std::uint64_t steps) {
  const std::uint64_t i =
      static_cast<std::uint64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  double px = x[i];
  double py = y[i];
  const double angular_velocity = w[i];
  for (std::uint64_t s = 0; s < steps; ++s) {
    kernels::ParticleStep(px, py, angular_velocity, timestep);
  }
  x[i] = px;
  y[i] = py;
}

}  // namespace

Result<RunOutcome> EvolveParticles(StreamLease& lease, ParticleSystem& system,
                                   double timestep, std::uint64_t steps,
                                   const RunControl& control,
                                   const StepsDoneCallback& on_chunk) {
  const std::size_t n = system.size();
  if (system.y.size() != n || system.w.size() != n) {
    return Error::InvalidArgument("particles",
                                  "x, y and w must have the same length");
  }
  if (!std::isfinite(timestep)) {
    return Error::InvalidArgument("timestep", "must be finite");
  }
  auto slot_or = detail::SlotOf(lease);
  if (!slot_or.ok()) return slot_or.error();
  detail::StreamSlot& slot = *slot_or.value();
  if (n == 0 || steps == 0) return RunOutcome::kCompleted;
  if (control.cancelled()) return RunOutcome::kCancelled;

  detail::StreamDrain drain(slot.stream);  // outlives the buffers below
  const std::size_t bytes = n * sizeof(double);
  detail::DeviceBuffer dx, dy, dw;
  IMPULSE_RETURN_IF_ERROR_STATUS(
      dx.Allocate(bytes, slot.stream, "particles x"));
  IMPULSE_RETURN_IF_ERROR_STATUS(
      dy.Allocate(bytes, slot.stream, "particles y"));
  IMPULSE_RETURN_IF_ERROR_STATUS(
      dw.Allocate(bytes, slot.stream, "particles w"));
  IMPULSE_RETURN_IF_ERROR_STATUS(
      detail::CopyToDevice(slot, dx.as<void>(), system.x.data(), bytes));
  IMPULSE_RETURN_IF_ERROR_STATUS(
      detail::CopyToDevice(slot, dy.as<void>(), system.y.data(), bytes));
  IMPULSE_RETURN_IF_ERROR_STATUS(
      detail::CopyToDevice(slot, dw.as<void>(), system.w.data(), bytes));

  const unsigned grid = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  // The first chunk is small whatever the GPU: a few hundred dependent steps
  // bound the latency when there are few particles, 2^24 particle-steps the
  // throughput when there are many. Later chunks follow the measured rate.
  const std::uint64_t first = std::max<std::uint64_t>(
      1, std::min<std::uint64_t>(256, (std::uint64_t{1} << 24) / n));
  auto outcome = detail::RunChunked(
      slot, steps, first, steps, control,
      [&](std::uint64_t, std::uint64_t count, int) -> Status {
        EvolveKernel<<<grid, kThreads, 0, slot.stream>>>(
            dx.as<double>(), dy.as<double>(), dw.as<double>(), n, timestep,
            count);
        IMPULSE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
        return {};
      },
      [&](std::uint64_t, std::uint64_t end, int) -> Status {
        if (on_chunk) on_chunk(end);
        return {};
      });
  if (!outcome.ok()) return outcome.error();
  IMPULSE_RETURN_IF_ERROR_STATUS(
      detail::CopyToHost(slot, system.x.data(), dx.as<void>(), bytes));
  IMPULSE_RETURN_IF_ERROR_STATUS(
      detail::CopyToHost(slot, system.y.data(), dy.as<void>(), bytes));
  return outcome;
}

Result<RunOutcome> EvolveParticles(ParticleSystem& system, double timestep,
                                   std::uint64_t steps,
                                   const RunControl& control,
                                   const StepsDoneCallback& on_chunk) {
  auto pool = StreamPool::Default();
  if (!pool.ok()) return pool.error();
  StreamLease lease = pool.value()->Acquire();
  return EvolveParticles(lease, system, timestep, steps, control, on_chunk);
}

}  // namespace impulse::gpu
