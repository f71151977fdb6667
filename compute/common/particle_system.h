// Plain data shared by the CPU and GPU kernels, so a job can hand the same
// object to either path without copying.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace impulse {

// Structure of arrays: particle i is (x[i], y[i], w[i]).
struct ParticleSystem {
  std::vector<double> x;
  std::vector<double> y;
  std::vector<double> w;  // angular velocity
  std::size_t size() const { return x.size(); }
};

// A Monte Carlo pi count: `hits` of the first `samples` samples fell inside
// the quarter circle.
struct PiCount {
  std::uint64_t samples = 0;
  std::uint64_t hits = 0;
};

}  // namespace impulse
