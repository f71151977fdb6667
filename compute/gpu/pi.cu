// Monte Carlo pi on the GPU: grid-stride loop over Philox blocks with
// kernels::PiBlockHits (integer hit test, so counts are bit-identical to the
// CPU), warp-shuffle + shared-memory reduction per thread block, one 64-bit
// atomicAdd per thread block into the running device counter.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "compute/gpu/cuda_util.cuh"
#include "compute/gpu/gpu.h"
#include "compute/kernels/pi.h"

namespace impulse::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

// Adds the hits of Philox blocks [block_begin, block_end) to *hits. Block
// `odd_block` (the last one of an odd sample count) holds only one sample.
__global__ void __launch_bounds__(kThreads)
    PiKernel(std::uint64_t block_begin, std::uint64_t block_end,
             std::uint64_t odd_block, std::uint64_t seed,
             unsigned long long* hits) {
  std::uint64_t local = 0;
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * kThreads;
  for (std::uint64_t b = block_begin +
                         static_cast<std::uint64_t>(blockIdx.x) * kThreads +
                         threadIdx.x;
       b < block_end; b += stride) {
    local += kernels::PiBlockHits(b, seed, b == odd_block ? 1u : 2u);
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    local += __shfl_down_sync(0xffffffffu, local, offset);
  }
  __shared__ std::uint64_t warp_sums[kWarps];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = local;
  __syncthreads();
  if (warp == 0) {
    std::uint64_t sum = lane < kWarps ? warp_sums[lane] : 0;
    for (int offset = 16; offset > 0; offset >>= 1) {
      sum += __shfl_down_sync(0xffffffffu, sum, offset);
    }
    if (lane == 0 && sum != 0) {
      atomicAdd(hits, static_cast<unsigned long long>(sum));
    }
  }
}

}  // namespace

Result<RunOutcome> CountPiHits(StreamLease& lease, std::uint64_t samples,
                               std::uint64_t seed, const RunControl& control,
                               PiCount* out,
                               const PiProgressCallback& on_chunk) {
  if (out == nullptr) return Error::InvalidArgument("out", "must not be null");
  *out = PiCount{};
  auto slot_or = detail::SlotOf(lease);
  if (!slot_or.ok()) return slot_or.error();
  detail::StreamSlot& slot = *slot_or.value();
  if (samples == 0) return RunOutcome::kCompleted;
  if (control.cancelled()) return RunOutcome::kCancelled;

  const std::uint64_t total_blocks =
      samples / kernels::kPiSamplesPerBlock + (samples & 1);
  const std::uint64_t odd_block =
      (samples & 1) ? samples / kernels::kPiSamplesPerBlock
                    : std::numeric_limits<std::uint64_t>::max();

  int multiprocessors = 0;
  int blocks_per_sm = 0;
  IMPULSE_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(
      &multiprocessors, cudaDevAttrMultiProcessorCount, slot.device));
  IMPULSE_CUDA_RETURN_IF_ERROR(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &blocks_per_sm, PiKernel, kThreads, 0));
  const std::uint64_t max_grid = static_cast<std::uint64_t>(
      std::max(1, multiprocessors) * std::max(1, blocks_per_sm));

  detail::StreamDrain drain(slot.stream);
  detail::DeviceBuffer hits;
  IMPULSE_RETURN_IF_ERROR_STATUS(
      hits.Allocate(sizeof(unsigned long long), slot.stream, "pi hits"));
  IMPULSE_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(
      hits.as<void>(), 0, sizeof(unsigned long long), slot.stream));
  for (int half = 0; half < 2; ++half) {
    IMPULSE_RETURN_IF_ERROR_STATUS(
        detail::EnsurePinned(slot, half, sizeof(unsigned long long)));
  }

  auto outcome = detail::RunChunked(
      slot, total_blocks, std::uint64_t{1} << 22, total_blocks, control,
      [&](std::uint64_t begin, std::uint64_t count, int half) -> Status {
        const std::uint64_t grid =
            std::min(max_grid, (count + kThreads - 1) / kThreads);
        PiKernel<<<static_cast<unsigned>(grid), kThreads, 0, slot.stream>>>(
            begin, begin + count, odd_block, seed,
            hits.as<unsigned long long>());
        IMPULSE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
        IMPULSE_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(
            slot.pinned[half], hits.as<void>(), sizeof(unsigned long long),
            cudaMemcpyDeviceToHost, slot.stream));
        return {};
      },
      [&](std::uint64_t, std::uint64_t end, int half) -> Status {
        // end < total_blocks <= 2^63 here, so 2 * end cannot overflow.
        out->samples =
            end == total_blocks ? samples : end * kernels::kPiSamplesPerBlock;
        out->hits = *static_cast<const unsigned long long*>(slot.pinned[half]);
        if (on_chunk) on_chunk(*out);
        return {};
      });
  if (!outcome.ok()) {
    *out = PiCount{};
    return outcome.error();
  }
  return outcome;
}

Result<RunOutcome> CountPiHits(std::uint64_t samples, std::uint64_t seed,
                               const RunControl& control, PiCount* out,
                               const PiProgressCallback& on_chunk) {
  auto pool = StreamPool::Default();
  if (!pool.ok()) return pool.error();
  StreamLease lease = pool.value()->Acquire();
  return CountPiHits(lease, samples, seed, control, out, on_chunk);
}

}  // namespace impulse::gpu
