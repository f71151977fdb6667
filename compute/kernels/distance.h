// Euclidean distance between two points, shared by the CPU and GPU matrices.
#pragma once

#include <cmath>
#include <cstddef>

#include "compute/kernels/hd.h"

namespace impulse::kernels {

IMPULSE_HD inline double Distance2D(double ax, double ay, double bx,
                                    double by) {
  const double dx = ax - bx;
  const double dy = ay - by;
  return sqrt(dx * dx + dy * dy);
}

// Points are row-major: point i is a[i*dims .. i*dims+dims).
IMPULSE_HD inline double DistanceND(const double* a, const double* b,
                                    std::size_t dims) {
  double sum = 0.0;
  for (std::size_t k = 0; k < dims; ++k) {
    const double d = a[k] - b[k];
    sum += d * d;
  }
  return sqrt(sum);
}

}  // namespace impulse::kernels
