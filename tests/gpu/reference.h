// CPU reference loops for the GPU tests and benchmarks: plain loops over the
// shared kernels/ math, split over std::threads (no TBB, so the GPU test binary
// carries no shared library beyond glibc).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "compute/gpu/gpu.h"
#include "compute/kernels/distance.h"
#include "compute/kernels/particles.h"
#include "compute/kernels/philox.h"
#include "compute/kernels/pi.h"

namespace impulse::gpu::testing {

inline unsigned ReferenceThreads() {
  return std::max(1u, std::thread::hardware_concurrency());
}

// Runs fn(begin, end) over [0, n) split into one range per thread.
template <typename Fn>
void ParallelRanges(std::uint64_t n, Fn fn) {
  const std::uint64_t threads = std::min<std::uint64_t>(
      ReferenceThreads(), std::max<std::uint64_t>(n, 1));
  std::vector<std::thread> pool;
  for (std::uint64_t t = 0; t < threads; ++t) {
    const std::uint64_t begin = n * t / threads;
    const std::uint64_t end = n * (t + 1) / threads;
    pool.emplace_back([=] { fn(begin, end); });
  }
  for (auto& thread : pool) thread.join();
}

// Hits among samples [0, samples): the scalar loop over kernels::PiBlockHits.
inline std::uint64_t ReferencePiHits(std::uint64_t samples,
                                     std::uint64_t seed) {
  const std::uint64_t full_blocks = samples / 2;
  std::mutex mu;
  std::uint64_t total = 0;
  ParallelRanges(full_blocks, [&](std::uint64_t begin, std::uint64_t end) {
    std::uint64_t hits = 0;
    for (std::uint64_t b = begin; b < end; ++b) {
      hits += kernels::PiBlockHits(b, seed, 2);
    }
    std::lock_guard<std::mutex> lock(mu);
    total += hits;
  });
  if (samples & 1) total += kernels::PiBlockHits(full_blocks, seed, 1);
  return total;
}

// x, y, w uniform in [-1, 1) from Philox(i, seed); deterministic.
inline ParticleSystem RandomParticles(std::size_t n, std::uint64_t seed) {
  ParticleSystem system;
  system.x.resize(n);
  system.y.resize(n);
  system.w.resize(n);
  auto uniform = [](std::uint32_t hi, std::uint32_t lo) {
    const std::uint64_t bits =
        ((std::uint64_t{hi} << 32) | lo) >> 11;  // 53 bits
    return -1.0 + 2.0 * (static_cast<double>(bits) * 0x1.0p-53);
  };
  for (std::size_t i = 0; i < n; ++i) {
    const kernels::Philox4x32Block a = kernels::Philox4x32(2 * i, seed);
    const kernels::Philox4x32Block b = kernels::Philox4x32(2 * i + 1, seed);
    system.x[i] = uniform(a.v[0], a.v[1]);
    system.y[i] = uniform(a.v[2], a.v[3]);
    system.w[i] = uniform(b.v[0], b.v[1]);
  }
  return system;
}

// `steps` steps of kernels::ParticleStep on every particle.
inline void ReferenceEvolve(ParticleSystem& system, double timestep,
                            std::uint64_t steps) {
  ParallelRanges(system.size(), [&](std::uint64_t begin, std::uint64_t end) {
    for (std::uint64_t i = begin; i < end; ++i) {
      double x = system.x[i];
      double y = system.y[i];
      for (std::uint64_t s = 0; s < steps; ++s) {
        kernels::ParticleStep(x, y, system.w[i], timestep);
      }
      system.x[i] = x;
      system.y[i] = y;
    }
  });
}

// Rows [row_begin, row_end) of the distance matrix of row-major 2-D points.
inline void ReferenceDistanceRows(const std::vector<double>& points,
                                  std::size_t row_begin, std::size_t row_end,
                                  double* out) {
  const std::size_t n = points.size() / 2;
  ParallelRanges(row_end - row_begin, [&](std::uint64_t begin,
                                          std::uint64_t end) {
    for (std::uint64_t r = begin; r < end; ++r) {
      const std::size_t i = row_begin + r;
      for (std::size_t j = 0; j < n; ++j) {
        out[r * n + j] = kernels::Distance2D(points[2 * i], points[2 * i + 1],
                                             points[2 * j], points[2 * j + 1]);
      }
    }
  });
}

// n points uniform in [0, 1)^2, row-major (x0, y0, x1, y1, ...).
inline std::vector<double> RandomPoints(std::size_t n, std::uint64_t seed) {
  std::vector<double> points(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const kernels::Philox4x32Block r = kernels::Philox4x32(i, seed);
    points[2 * i] = static_cast<double>(r.v[0]) * 0x1.0p-32;
    points[2 * i + 1] = static_cast<double>(r.v[1]) * 0x1.0p-32;
  }
  return points;
}

}  // namespace impulse::gpu::testing
