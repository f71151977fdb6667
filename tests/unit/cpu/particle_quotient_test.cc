// kernels::DivideByReciprocal (Markstein's correction from one shared
// reciprocal) must give exactly the IEEE quotient a / b, and so
// kernels::ParticleStep must match the book's plain two-division step bit for
// bit, in the scalar code and in every SIMD variant.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "compute/cpu/particles_cpu.h"
#include "compute/kernels/particles.h"

namespace impulse::cpu {
namespace {

constexpr double kTimestep = kernels::kDefaultTimestep;
constexpr int kP = 53;  // binary64 precision

// The book's step with its two divisions, the reference for ParticleStep.
void PlainDivisionStep(double& x, double& y, double w, double timestep) {
  const double norm = std::sqrt(x * x + y * y);
  const double vx = -y / norm;
  const double vy = x / norm;
  const double scale = timestep * w;
  x += scale * vx;
  y += scale * vy;
}

void PlainDivisionEvolve(ParticleSystem& system, double timestep,
                         std::uint64_t steps) {
  for (std::uint64_t step = 0; step < steps; ++step) {
    for (std::size_t i = 0; i < system.size(); ++i) {
      PlainDivisionStep(system.x[i], system.y[i], system.w[i], timestep);
    }
  }
}

double Quotient(double a, double b) {
  return kernels::DivideByReciprocal(a, b, 1.0 / b);
}

::testing::AssertionResult SameBits(double actual, double expected) {
  if (std::bit_cast<std::uint64_t>(actual) ==
      std::bit_cast<std::uint64_t>(expected)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << std::hexfloat << actual << " != " << expected;
}

// |v| log-uniform in [1e-3, 10], random sign: the particle coordinates' range.
double RandomInParticleRange(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> log10_magnitude(-3.0, 1.0);
  const double v = std::pow(10.0, log10_magnitude(rng));
  return (rng() & 1) ? -v : v;
}

TEST(ParticleQuotientTest, RandomPairsMatchDivision) {
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> uniform(-10.0, 10.0);
  int uncorrected_wrong = 0;
  for (int i = 0; i < 4'000'000; ++i) {
    // Half log-uniform, half uniform (which puts most values near 10).
    double a = RandomInParticleRange(rng);
    double b = std::abs(RandomInParticleRange(rng));
    if (i % 2 == 1) {
      a = uniform(rng);
      b = std::abs(uniform(rng));
      if (std::abs(a) < 1e-3 || b < 1e-3) continue;
    }
    const double expected = a / b;
    ASSERT_TRUE(SameBits(Quotient(a, b), expected)) << a << " / " << b;
    ASSERT_TRUE(SameBits(Quotient(a, -b), a / -b)) << a << " / " << -b;
    if (a * (1.0 / b) != expected) ++uncorrected_wrong;
  }
  // The correction step matters: a * (1 / b) alone is often a rounding off.
  EXPECT_GT(uncorrected_wrong, 100'000);
}

// The norm is the divisor in ParticleStep, and |x|, |y| <= norm: quotients in
// [-1, 1] with numerator and divisor close in magnitude, including a == b.
TEST(ParticleQuotientTest, ParticleLikeQuotientsMatchDivision) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2'000'000; ++i) {
    const double x = RandomInParticleRange(rng);
    const double y = RandomInParticleRange(rng);
    const double norm = std::sqrt(x * x + y * y);
    ASSERT_TRUE(SameBits(Quotient(-y, norm), -y / norm)) << x << ", " << y;
    ASSERT_TRUE(SameBits(Quotient(x, norm), x / norm)) << x << ", " << y;
    ASSERT_TRUE(SameBits(Quotient(norm, norm), 1.0));
  }
}

// The hardest inputs: a / b within a few units of u^2 of a rounding midpoint
// (u = 2^-53 relative), where a wrong final rounding would show. With
// significands A, B in [2^52, 2^53) (a = A 2^-52, b = B 2^-52) and a midpoint
// m = M 2^-(p+s) (M odd, s = 0 for a/b in [1, 2), 1 for [1/2, 1)), a - b m =
// (A 2^(p+s) - B M) 2^-(2p-1+s), so N = A 2^(p+s) - B M is how close a/b is to
// m. For a random B and a small N of the same 2-adic valuation as B, solve the
// congruence B M = -N mod 2^(p+s) for M, then A = (N + B M) / 2^(p+s).
TEST(ParticleQuotientTest, QuotientsNextToMidpointsMatchDivision) {
  using u128 = unsigned __int128;
  std::mt19937_64 rng(99);
  int tested = 0;
  for (int i = 0; i < 400'000; ++i) {
    const std::uint64_t b_sig =
        (std::uint64_t{1} << (kP - 1)) | (rng() >> (64 - (kP - 1)));
    const int s = static_cast<int>(rng() & 1);
    const int j = std::countr_zero(b_sig);
    const std::uint64_t b_odd = b_sig >> j;
    const int c = 1 + 2 * static_cast<int>(rng() % 3);  // 1, 3 or 5
    const bool negative = rng() & 1;
    // Need B M = -N (mod 2^(p+s)) with N = +-c 2^j, i.e. b_odd M = -+c
    // (mod 2^(p+s-j)); b_odd's inverse mod 2^64 by Newton's iteration.
    std::uint64_t inv = b_odd;
    for (int k = 0; k < 6; ++k) inv *= 2 - b_odd * inv;
    const int bits = kP + s - j;
    const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
    const std::uint64_t target =
        negative ? std::uint64_t(c) : -std::uint64_t(c);
    std::uint64_t m_sig = (target * inv) & mask;
    // M (odd, as c and b_odd are) must be in [2^p, 2^(p+1)) so that m is in
    // the quotient's binade; the bits above `bits` are free.
    if (bits <= kP) {
      m_sig |= (rng() << bits) & ((std::uint64_t{1} << (kP + 1)) - 1);
      m_sig |= std::uint64_t{1} << kP;
    } else if (m_sig < (std::uint64_t{1} << kP)) {
      continue;
    }
    const u128 bm = u128(b_sig) * m_sig;
    const u128 n_abs = u128(c) << j;
    const u128 numerator = negative ? bm - n_abs : bm + n_abs;
    const int shift = kP + s;
    if ((numerator & ((u128(1) << shift) - 1)) != 0) continue;
    const u128 a_sig = numerator >> shift;
    if (a_sig < (u128(1) << (kP - 1)) || a_sig >= (u128(1) << kP)) continue;
    // Scale into the particle range; the quotient's rounding is scale-free.
    const int a_exp = -9 + static_cast<int>(rng() % 12);
    const int b_exp = -9 + static_cast<int>(rng() % 12);
    const double a =
        std::ldexp(static_cast<double>(static_cast<std::uint64_t>(a_sig)),
                   a_exp - (kP - 1));
    const double b = std::ldexp(static_cast<double>(b_sig), b_exp - (kP - 1));
    ASSERT_TRUE(SameBits(Quotient(a, b), a / b))
        << std::hexfloat << a << " / " << b;
    ASSERT_TRUE(SameBits(Quotient(-a, b), -a / b));
    ++tested;
  }
  EXPECT_GT(tested, 50'000);
}

// Edge significands: b all ones or a power of two, a next to b.
TEST(ParticleQuotientTest, EdgeSignificandsMatchDivision) {
  const double one_minus = std::nextafter(1.0, 0.0);
  std::vector<double> values = {1.0, 1.5, 2.0 - 0x1p-52, one_minus};
  for (double v = 1.0; v < 2.0; v = std::nextafter(v, 2.0)) {
    values.push_back(v);
    if (values.size() > 2000) break;
  }
  for (double v = 2.0 - 0x1p-52; v > 1.0; v = std::nextafter(v, 0.0)) {
    values.push_back(v);
    if (values.size() > 4000) break;
  }
  for (double a : values) {
    for (double b : values) {
      for (double scale : {1e-3, 0.5, 1.0, 8.0}) {
        ASSERT_TRUE(SameBits(Quotient(a * scale, b), (a * scale) / b))
            << std::hexfloat << a * scale << " / " << b;
      }
    }
  }
}

// ParticleStep against the plain-division step, every step of the book's
// reference run.
TEST(ParticleQuotientTest, BookRunMatchesPlainDivisionEveryStep) {
  ParticleSystem reference{
      .x = {0.3, 0.0, -0.1}, .y = {0.5, -0.5, -0.4}, .w = {1.0, -1.0, 3.0}};
  ParticleSystem actual = reference;
  const std::uint64_t steps = kernels::ParticleStepCount(0.1, kTimestep);
  for (std::uint64_t step = 0; step < steps; ++step) {
    for (std::size_t i = 0; i < reference.size(); ++i) {
      PlainDivisionStep(reference.x[i], reference.y[i], reference.w[i],
                        kTimestep);
      kernels::ParticleStep(actual.x[i], actual.y[i], actual.w[i], kTimestep);
      ASSERT_TRUE(SameBits(actual.x[i], reference.x[i]))
          << "step " << step << " particle " << i;
      ASSERT_TRUE(SameBits(actual.y[i], reference.y[i]))
          << "step " << step << " particle " << i;
    }
  }
  EXPECT_NEAR(reference.x[0], 0.210269, 1e-5);
  EXPECT_NEAR(reference.y[0], 0.543863, 1e-5);
}

// The scalar oracle, every SIMD variant and the parallel driver against the
// plain-division loop, on the book set-up and on a random system.
TEST(ParticleQuotientTest, EvolveMatchesPlainDivisionLoop) {
  struct Case {
    ParticleSystem start;
    std::uint64_t steps;
  };
  const Case cases[] = {
      {ParticleSystem{.x = {0.3, 0.0, -0.1},
                      .y = {0.5, -0.5, -0.4},
                      .w = {1.0, -1.0, 3.0}},
       10000},
      {RandomParticles(1000, /*seed=*/2024), 2000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.start.size());
    ParticleSystem expected = c.start;
    PlainDivisionEvolve(expected, kTimestep, c.steps);

    ParticleSystem scalar = c.start;
    EvolveParticlesScalar(scalar, kTimestep, c.steps);
    EXPECT_EQ(scalar.x, expected.x);
    EXPECT_EQ(scalar.y, expected.y);

    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
      if (!IsaSupported(isa)) continue;
      SCOPED_TRACE(IsaName(isa));
      ParticleSystem simd = c.start;
      internal::EvolveParticleRange(isa, simd.x.data(), simd.y.data(),
                                    simd.w.data(), simd.size(), kTimestep,
                                    c.steps);
      EXPECT_EQ(simd.x, expected.x);
      EXPECT_EQ(simd.y, expected.y);
    }

    ParticleSystem parallel = c.start;
    ASSERT_EQ(EvolveParticles(parallel, kTimestep, c.steps, RunControl{}),
              RunOutcome::kCompleted);
    EXPECT_EQ(parallel.x, expected.x);
    EXPECT_EQ(parallel.y, expected.y);
  }
}

}  // namespace
}  // namespace impulse::cpu
