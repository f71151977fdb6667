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

// a / b, correctly rounded (bit-identical to the IEEE division a / b), from
// inv_b = 1.0 / b, so several quotients by one b cost one division plus a
// multiply and two FMAs each. Markstein's correction step:
//   q = RN(a inv_b); r = RN(a - b q) (one FMA); result = RN(q + r inv_b).
//
// Why it is exact (RN: round to nearest even; binary64, p = 53, u = 2^-p).
// Scale a, b to significands in [1, 2); inv_b = RN(1/b) gives
// |1 - b inv_b| < 2^-p.
//  - sig(a) > sig(b): q is within one ulp of a/b, so Markstein's theorem
//    applies (|1 - b inv_b| < 2^-p and |q - a/b| < ulp(a/b) => r exact and
//    RN(q + r inv_b) = RN(a/b); formally verified as markstein-lemma in
//    Russinoff's ACL2 RTL library).
//  - sig(a) = sig(b): a/b = 2^k; q is 2^k or 2^k (1 - u), r exact, and the
//    correction lands within u^2 2^k of 2^k.
//  - sig(a) < sig(b): q can be up to 1.5 ulp off, outside the theorem, and r
//    is then sometimes inexact, but the result is still RN(a/b). For a
//    midpoint m, a - b m = N u^2 with N a nonzero integer (a quotient of p-bit
//    numbers is never a midpoint) of the same 2-adic valuation as sig(b), and
//      b (q + RN(r) inv_b - m) = (N u^2 + RN(r) - r)(1 + e) - e b (q - m)
//    with e = b inv_b - 1, |e| <= b u / 2, |RN(r) - r| <= 2 u^2 (and r exact
//    unless sig(b) is odd and |q - a/b| > 1 ulp). For the rounding to differ,
//    this must not have the sign of N, which needs q - m = +-3u/2 (with
//    +-u/2, |e b (q - m)| < u^2) and then |N| <= 2 if r is exact, |N| <= 3
//    (odd) if not; but RN(a inv_b) = m +- 3u/2 needs a >= 2 - 2 |N| u / b,
//    and no p-bit 1 <= a < b < 2 satisfies both.
//  An exhaustive check of all significand pairs at precisions 4 to 15 agrees.
// Conditions: round to nearest even; 1.0 / b correctly rounded (IEEE
// division: not CUDA's -prec-div=false or --use_fast_math) and fma a true
// fused multiply-add; no overflow or underflow: b, 1 / b, a / b normal and
// a - b q representable, i.e. |a| >= about 2^-969 (particles are far inside).
// One difference: a = +-0 gives +0 where a / b keeps the sign of zero. That
// cannot change ParticleStep's positions: a zero quotient (x or y zero) is
// added to the other coordinate, which is then nonzero (or norm is 0: NaN).
IMPULSE_HD inline double DivideByReciprocal(double a, double b, double inv_b) {
  const double q = a * inv_b;
  const double r = fma(-q, b, a);
  return fma(r, inv_b, q);
}

// How ParticleStep divides by the norm. Both round identically (see
// DivideByReciprocal); kPlain is for code without hardware FMA, where fma is a
// slow library call (the baseline x86-64 variant and the scalar oracle).
enum class NormDivision {
  kSharedReciprocal,  // 1 / norm once, then DivideByReciprocal: 1 division
  kPlain,             // -y / norm and x / norm: 2 divisions
};

// One step for one particle, with the book's arithmetic in the book's order:
// norm = sqrt(x^2 + y^2); v = (-y, x) / norm; position += timestep * w * v.
template <NormDivision kDivision = NormDivision::kSharedReciprocal>
IMPULSE_HD inline void ParticleStep(double& x, double& y,
                                    double angular_velocity, double timestep) {
  const double norm = sqrt(x * x + y * y);
  double vx, vy;
  if constexpr (kDivision == NormDivision::kSharedReciprocal) {
    const double inv_norm = 1.0 / norm;
    vx = DivideByReciprocal(-y, norm, inv_norm);
    vy = DivideByReciprocal(x, norm, inv_norm);
  } else {
    vx = -y / norm;
    vy = x / norm;
  }
  const double scale = timestep * angular_velocity;
  x += scale * vx;
  y += scale * vy;
}

}  // namespace impulse::kernels
