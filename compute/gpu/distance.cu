// Distance matrix of N 2-D points on the GPU, one row block at a time: a tiled
// kernel (32x32 output tiles, the tile's row and column points staged in
// shared memory) writes the block, which is copied into a pinned half and
// handed to the caller while the next block is computed.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "compute/gpu/cuda_util.cuh"
#include "compute/gpu/gpu.h"
#include "compute/kernels/distance.h"

namespace impulse::gpu {
namespace {

constexpr int kTile = 32;     // output tile is kTile x kTile
constexpr int kTileRows = 8;  // threads per column of a tile
// gridDim.y limit (65535) times the tile height.
constexpr std::uint64_t kMaxRowsPerBlock = std::uint64_t{65535} * kTile;

// out[r * n + c] = |p(row_begin + r) - p(c)| for r < rows, c < n, where point
// i is (points[2i], points[2i + 1]).
__global__ void __launch_bounds__(kTile* kTileRows)
    DistanceKernel(const double* __restrict__ points, std::uint64_t n,
                   std::uint64_t row_begin, std::uint64_t rows,
                   double* __restrict__ out) {
  __shared__ double col_x[kTile];
  __shared__ double col_y[kTile];
  __shared__ double row_x[kTile];
  __shared__ double row_y[kTile];
  const int tx = threadIdx.x;
  const std::uint64_t col = static_cast<std::uint64_t>(blockIdx.x) * kTile + tx;
  const std::uint64_t tile_row = static_cast<std::uint64_t>(blockIdx.y) * kTile;
  if (threadIdx.y == 0) {
    col_x[tx] = col < n ? points[2 * col] : 0.0;
    col_y[tx] = col < n ? points[2 * col + 1] : 0.0;
  } else if (threadIdx.y == 1) {
    const std::uint64_t r = tile_row + tx;
    row_x[tx] = r < rows ? points[2 * (row_begin + r)] : 0.0;
    row_y[tx] = r < rows ? points[2 * (row_begin + r) + 1] : 0.0;
  }
  __syncthreads();
  if (col >= n) return;
  const double cx = col_x[tx];
  const double cy = col_y[tx];
  for (int r = threadIdx.y; r < kTile; r += kTileRows) {
    const std::uint64_t local_row = tile_row + r;
    if (local_row >= rows) break;
    out[local_row * n + col] = kernels::Distance2D(row_x[r], row_y[r], cx, cy);
  }
}

Status ValidatePoints2D(std::span<const double> points, std::size_t dims) {
  if (dims != 2) {
    return Error::InvalidArgument(
        "dims", "the GPU distance matrix takes 2-D points (dims = 2), got " +
                    std::to_string(dims));
  }
  if (points.empty() || points.size() % 2 != 0) {
    return Error::InvalidArgument(
        "points", "need at least one point and an even number of coordinates");
  }
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!std::isfinite(points[i])) {
      return Error::InvalidArgument(
          "points", "point " + std::to_string(i / 2) + " is not finite");
    }
  }
  return {};
}

}  // namespace

Status StreamDistanceMatrix(StreamLease& lease, std::span<const double> points,
                            std::size_t dims, std::size_t block_rows,
                            const RunControl& control,
                            const DistanceBlockCallback& on_block,
                            const ProgressCallback& progress) {
  IMPULSE_RETURN_IF_ERROR_STATUS(ValidatePoints2D(points, dims));
  auto slot_or = detail::SlotOf(lease);
  if (!slot_or.ok()) return slot_or.error();
  detail::StreamSlot& slot = *slot_or.value();
  const std::uint64_t n = points.size() / 2;
  if (control.cancelled()) return Error{ErrorCode::kCancelled, "cancelled", ""};

  const std::uint64_t row_bytes = n * sizeof(double);
  std::uint64_t rows = block_rows;
  if (rows == 0) rows = slot.default_pinned_bytes / row_bytes;
  rows = std::clamp<std::uint64_t>(rows, 1, std::min(n, kMaxRowsPerBlock));
  const std::uint64_t block_bytes = rows * row_bytes;

  detail::StreamDrain drain(slot.stream);
  detail::DeviceBuffer device_points, device_block;
  IMPULSE_RETURN_IF_ERROR_STATUS(
      device_block.Allocate(block_bytes, slot.stream, "distance row block"));
  IMPULSE_RETURN_IF_ERROR_STATUS(device_points.Allocate(
      points.size_bytes(), slot.stream, "distance points"));
  for (int half = 0; half < 2; ++half) {
    IMPULSE_RETURN_IF_ERROR_STATUS(
        detail::EnsurePinned(slot, half, block_bytes));
  }
  IMPULSE_RETURN_IF_ERROR_STATUS(detail::CopyToDevice(
      slot, device_points.as<void>(), points.data(), points.size_bytes()));

  const unsigned grid_x = static_cast<unsigned>((n + kTile - 1) / kTile);
  auto outcome = detail::RunChunked(
      slot, n, rows, rows, control,
      [&](std::uint64_t begin, std::uint64_t count, int half) -> Status {
        const dim3 grid(grid_x,
                        static_cast<unsigned>((count + kTile - 1) / kTile));
        const dim3 block(kTile, kTileRows);
        DistanceKernel<<<grid, block, 0, slot.stream>>>(
            device_points.as<double>(), n, begin, count,
            device_block.as<double>());
        IMPULSE_CUDA_RETURN_IF_ERROR(cudaGetLastError());
        IMPULSE_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(
            slot.pinned[half], device_block.as<void>(), count * row_bytes,
            cudaMemcpyDeviceToHost, slot.stream));
        return {};
      },
      [&](std::uint64_t begin, std::uint64_t end, int half) -> Status {
        if (on_block) {
          const std::span<const double> values(
              static_cast<const double*>(slot.pinned[half]), (end - begin) * n);
          IMPULSE_RETURN_IF_ERROR_STATUS(on_block(begin, end, values));
        }
        if (progress) progress(end, n);
        return {};
      });
  if (!outcome.ok()) return outcome.error();
  if (outcome.value() == RunOutcome::kCancelled) {
    return Error{ErrorCode::kCancelled, "cancelled", ""};
  }
  return {};
}

Status StreamDistanceMatrix(std::span<const double> points, std::size_t dims,
                            std::size_t block_rows, const RunControl& control,
                            const DistanceBlockCallback& on_block,
                            const ProgressCallback& progress) {
  auto pool = StreamPool::Default();
  if (!pool.ok()) return pool.error();
  StreamLease lease = pool.value()->Acquire();
  return StreamDistanceMatrix(lease, points, dims, block_rows, control,
                              on_block, progress);
}

}  // namespace impulse::gpu
