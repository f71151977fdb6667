// Pairwise Euclidean distance matrix of N points in d dimensions (book ch3 /
// ch5: N = 10,000 points). Distances use the formula of
// compute/kernels/distance.h (sqrt of the sum over dimensions, in order, of
// squared differences); vectorised with per-CPU clones (AVX-512, AVX2,
// generic) chosen at load time, so no particular ISA is required.
//
// Points are row-major: point i is points[i*dims .. i*dims + dims). The
// matrix is row-major N x N. Row blocks can be computed independently, so the
// server can stream a large matrix block by block without holding all of it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>

#include "compute/analytics/progress.h"
#include "compute/common/run_control.h"
#include "compute/common/status.h"

namespace impulse::analytics {

// Checks a point set: dims >= 1 (field "dims"), at least one point and a
// length that is a multiple of dims, all coordinates finite (field "points",
// the message names the first bad point index).
Status ValidatePoints(std::span<const double> points, std::size_t dims);

// Fills rows [row_begin, row_end) of the N x N matrix into `out` (row-major,
// (row_end - row_begin) * N doubles; out.size() must be at least that).
// Parallel over rows in the caller's TBB arena. Errors: bad points, row range
// outside [0, N] (field "row_begin"/"row_end"), short buffer (field "out").
Status ComputeDistanceRows(std::span<const double> points, std::size_t dims,
                           std::size_t row_begin, std::size_t row_end,
                           std::span<double> out);

// A whole N x N matrix.
class DistanceMatrix {
 public:
  DistanceMatrix() = default;
  std::size_t n() const { return n_; }
  const double* data() const { return data_.get(); }
  double* mutable_data() { return data_.get(); }
  std::span<const double> values() const { return {data_.get(), n_ * n_}; }
  std::span<const double> row(std::size_t i) const {
    return {data_.get() + i * n_, n_};
  }
  double at(std::size_t i, std::size_t j) const { return data_[i * n_ + j]; }

  // Uninitialised n x n storage (huge-page backed where the OS allows).
  // Throws std::bad_alloc.
  static DistanceMatrix Allocate(std::size_t n);

 private:
  struct Free {
    void operator()(double* p) const;
  };
  std::size_t n_ = 0;
  std::unique_ptr<double[], Free> data_;
};

// The whole matrix, rows computed in waves; progress(done_rows, N) between
// waves; cancel -> kCancelled. N*N*8 bytes must be allocatable, otherwise
// kResourceExhausted (field "points").
Result<DistanceMatrix> ComputeDistanceMatrix(
    std::span<const double> points, std::size_t dims,
    const RunControl& control = {}, const ProgressCallback& progress = {});

// Called on the calling thread with each finished block of rows
// [row_begin, row_end) (row-major, (row_end - row_begin) * N values; the span
// is only valid during the call). Returning an error stops the stream and
// that error is returned.
using DistanceBlockCallback = std::function<Status(
    std::size_t row_begin, std::size_t row_end, std::span<const double> rows)>;

// Computes the matrix block by block (block_rows rows each; 0 picks about
// 4 MiB per block) into one reused buffer and hands each block to on_block.
// Cancel is checked between blocks (-> kCancelled); progress(done_rows, N)
// after each block.
Status StreamDistanceMatrix(std::span<const double> points, std::size_t dims,
                            std::size_t block_rows, const RunControl& control,
                            const DistanceBlockCallback& on_block,
                            const ProgressCallback& progress = {});

// Plain single-thread scalar loop over kernels::DistanceND: benchmark
// baseline. No validation.
void ComputeDistanceRowsScalar(const double* points, std::size_t n,
                               std::size_t dims, std::size_t row_begin,
                               std::size_t row_end, double* out);

}  // namespace impulse::analytics
