// The book's circular-motion particle integrator (Python High Performance,
// ch1).
#pragma once

#include <cmath>
#include <cstdint>

#include "compute/kernels/hd.h"

namespace impulse::kernels {

inline constexpr double kDefaultTimestep = 1e-5;

// Number of integration steps for evolve(t_end), as the book's int(t/timestep).
IMPULSE_HD inline std::uint64_t ParticleStepCount(double t_end,
                                                  double timestep) {
  return static_cast<std::uint64_t>(t_end / timestep);
}

// One step for one particle, with the book's arithmetic in the book's order:
// norm = sqrt(x^2 + y^2); v = (-y, x) / norm; position += timestep * w * v.
IMPULSE_HD inline void ParticleStep(double& x, double& y,
                                    double angular_velocity, double timestep) {
  const double norm = sqrt(x * x + y * y);
  const double vx = -y / norm;
  const double vy = x / norm;
  const double scale = timestep * angular_velocity;
  x += scale * vx;
  y += scale * vy;
}

}  // namespace impulse::kernels
