#include "compute/analytics/distance_matrix.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "compute/analytics/waves.h"
#include "compute/common/parallel.h"
#include "compute/kernels/distance.h"

namespace impulse::analytics {
namespace {

// Coordinates transposed to structure-of-arrays: cols[k * n + j] is
// coordinate k of point j, so the inner loops run unit-stride over j.
struct Columns {
  std::size_t n = 0;
  std::size_t dims = 0;
  std::vector<double> cols;
};

Columns Transpose(const double* points, std::size_t n, std::size_t dims) {
  Columns c{n, dims, std::vector<double>(n * dims)};
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t k = 0; k < dims; ++k) {
      c.cols[k * n + j] = points[j * dims + k];
    }
  }
  return c;
}

// Hot loops: compiled for AVX-512, AVX2 and baseline x86-64; the loader picks
// the best the CPU supports. The library is built with -fno-math-errno so
// sqrt vectorises.
//
// Not under ThreadSanitizer: gcc 12 instruments the ifunc resolver that
// target_clones generates, and the loader runs it before the TSan runtime is
// initialised, so every binary linking this library crashed at start-up
// (--config=tsan). That build uses the baseline version only.
#if defined(IMPULSE_TSAN)
#define IMPULSE_TARGET_CLONES
#else
#define IMPULSE_TARGET_CLONES \
  __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

IMPULSE_TARGET_CLONES void Row2D(double xi, double yi,
                                 const double* __restrict xs,
                                 const double* __restrict ys, std::size_t n,
                                 double* __restrict out) {
  for (std::size_t j = 0; j < n; ++j) {
    const double dx = xi - xs[j];
    const double dy = yi - ys[j];
    out[j] = std::sqrt(dx * dx + dy * dy);
  }
}

IMPULSE_TARGET_CLONES void RowND(const double* __restrict pi,
                                 const double* __restrict cols, std::size_t n,
                                 std::size_t dims, double* __restrict out) {
  constexpr std::size_t kTile = 512;  // 4 KiB accumulator stays in L1
  double acc[kTile];
  for (std::size_t j0 = 0; j0 < n; j0 += kTile) {
    const std::size_t m = std::min(kTile, n - j0);
    for (std::size_t jj = 0; jj < m; ++jj) acc[jj] = 0.0;
    for (std::size_t k = 0; k < dims; ++k) {
      const double c = pi[k];
      const double* col = cols + k * n + j0;
      for (std::size_t jj = 0; jj < m; ++jj) {
        const double d = c - col[jj];
        acc[jj] += d * d;
      }
    }
    for (std::size_t jj = 0; jj < m; ++jj) out[j0 + jj] = std::sqrt(acc[jj]);
  }
}

void OneRow(const double* points, const Columns& c, std::size_t i,
            double* out) {
  if (c.dims == 2) {
    Row2D(points[2 * i], points[2 * i + 1], c.cols.data(), c.cols.data() + c.n,
          c.n, out);
  } else {
    RowND(points + i * c.dims, c.cols.data(), c.n, c.dims, out);
  }
}

// Rows [r0, r1) into out, parallel over rows.
void FillRows(const double* points, const Columns& c, std::size_t r0,
              std::size_t r1, double* out) {
  const std::size_t n = c.n;
  // Each task gets at least ~32K distances so scheduling overhead stays small.
  const std::size_t grain =
      std::max<std::size_t>(1, (32768 / std::max<std::size_t>(1, n * c.dims)));
  parallel::ForRanges(r0, r1, grain, [&](std::size_t first, std::size_t last) {
    for (std::size_t i = first; i < last; ++i) {
      OneRow(points, c, i, out + (i - r0) * n);
    }
  });
}

}  // namespace

Status ValidatePoints(std::span<const double> points, std::size_t dims) {
  if (dims == 0) return Error::InvalidArgument("dims", "must be at least 1");
  if (points.empty()) {
    return Error::InvalidArgument("points", "empty dataset: no points");
  }
  if (points.size() % dims != 0) {
    return Error::InvalidArgument(
        "points", "length " + std::to_string(points.size()) +
                      " is not a multiple of dims=" + std::to_string(dims));
  }
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!std::isfinite(points[i])) {
      return Error::InvalidArgument(
          "points", "point " + std::to_string(i / dims) + ", coordinate " +
                        std::to_string(i % dims) + " is not finite");
    }
  }
  return {};
}

void DistanceMatrix::Free::operator()(double* p) const {
  if (p != nullptr) std::free(p);
}

DistanceMatrix DistanceMatrix::Allocate(std::size_t n) {
  DistanceMatrix m;
  const std::size_t count = n * n;
  if (n != 0 && count / n != n) throw std::bad_alloc();
  if (count > (std::size_t{1} << 60) / sizeof(double)) throw std::bad_alloc();
  std::size_t bytes = std::max<std::size_t>(count * sizeof(double), 64);
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const std::size_t align = bytes >= 4 * kHuge ? kHuge : 64;
  bytes = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, bytes);
  if (p == nullptr) throw std::bad_alloc();
  if (align == kHuge) madvise(p, bytes, MADV_HUGEPAGE);  // best effort
  m.n_ = n;
  m.data_ = std::unique_ptr<double[], Free>(static_cast<double*>(p), Free{});
  return m;
}

Status ComputeDistanceRows(std::span<const double> points, std::size_t dims,
                           std::size_t row_begin, std::size_t row_end,
                           std::span<double> out) {
  if (Status s = ValidatePoints(points, dims); !s.ok()) return s;
  const std::size_t n = points.size() / dims;
  if (row_begin > n) {
    return Error::InvalidArgument("row_begin",
                                  "must be at most N=" + std::to_string(n));
  }
  if (row_end < row_begin || row_end > n) {
    return Error::InvalidArgument(
        "row_end", "must be in [row_begin, N=" + std::to_string(n) + "]");
  }
  const std::size_t need = (row_end - row_begin) * n;
  if (out.size() < need) {
    return Error::InvalidArgument(
        "out", "buffer holds " + std::to_string(out.size()) + " values, need " +
                   std::to_string(need));
  }
  if (row_end == row_begin) return {};
  const Columns c = Transpose(points.data(), n, dims);
  FillRows(points.data(), c, row_begin, row_end, out.data());
  return {};
}

Result<DistanceMatrix> ComputeDistanceMatrix(std::span<const double> points,
                                             std::size_t dims,
                                             const RunControl& control,
                                             const ProgressCallback& progress) {
  if (Status s = ValidatePoints(points, dims); !s.ok()) return s.error();
  const std::size_t n = points.size() / dims;
  DistanceMatrix m;
  try {
    m = DistanceMatrix::Allocate(n);
  } catch (const std::bad_alloc&) {
    return Error{ErrorCode::kResourceExhausted,
                 "cannot allocate a " + std::to_string(n) + " x " +
                     std::to_string(n) + " matrix",
                 "points"};
  }
  const Columns c = Transpose(points.data(), n, dims);
  double* out = m.mutable_data();
  const std::size_t grain =
      std::max<std::size_t>(1, 32768 / std::max<std::size_t>(1, n * dims));
  const bool done = internal::RunInWaves(
      n, std::max<std::size_t>(grain * 4, 1), grain, control, progress,
      [&](std::size_t r0, std::size_t r1) {
        for (std::size_t i = r0; i < r1; ++i) {
          OneRow(points.data(), c, i, out + i * n);
        }
      });
  if (!done) return CancelledError();
  return m;
}

Status StreamDistanceMatrix(std::span<const double> points, std::size_t dims,
                            std::size_t block_rows, const RunControl& control,
                            const DistanceBlockCallback& on_block,
                            const ProgressCallback& progress) {
  if (Status s = ValidatePoints(points, dims); !s.ok()) return s;
  const std::size_t n = points.size() / dims;
  if (block_rows == 0) {
    block_rows = std::max<std::size_t>(1, (std::size_t{4} << 20) / (8 * n));
  }
  block_rows = std::min(block_rows, n);
  std::vector<double> buffer(block_rows * n);
  const Columns c = Transpose(points.data(), n, dims);
  for (std::size_t r0 = 0; r0 < n; r0 += block_rows) {
    if (control.cancelled()) return CancelledError();
    const std::size_t r1 = std::min(n, r0 + block_rows);
    FillRows(points.data(), c, r0, r1, buffer.data());
    if (on_block) {
      if (Status s = on_block(r0, r1, {buffer.data(), (r1 - r0) * n});
          !s.ok()) {
        return s;
      }
    }
    if (progress) progress(r1, n);
  }
  return {};
}

void ComputeDistanceRowsScalar(const double* points, std::size_t n,
                               std::size_t dims, std::size_t row_begin,
                               std::size_t row_end, double* out) {
  for (std::size_t i = row_begin; i < row_end; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      out[(i - row_begin) * n + j] =
          kernels::DistanceND(points + i * dims, points + j * dims, dims);
    }
  }
}

}  // namespace impulse::analytics
