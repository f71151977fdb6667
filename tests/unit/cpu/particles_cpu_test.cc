#include "compute/cpu/particles_cpu.h"

#include <gtest/gtest.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "compute/kernels/particles.h"

namespace impulse::cpu {
namespace {

constexpr double kTimestep = kernels::kDefaultTimestep;

ParticleSystem BookParticles() {
  return ParticleSystem{
      .x = {0.3, 0.0, -0.1}, .y = {0.5, -0.5, -0.4}, .w = {1.0, -1.0, 3.0}};
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

void ExpectRelativelyNear(const ParticleSystem& actual,
                          const ParticleSystem& expected, double tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual.x[i], expected.x[i],
                tolerance * std::max(1.0, std::abs(expected.x[i])))
        << "particle " << i;
    EXPECT_NEAR(actual.y[i], expected.y[i],
                tolerance * std::max(1.0, std::abs(expected.y[i])))
        << "particle " << i;
  }
}

TEST(ParticlesCpuTest, BookStepCount) {
  EXPECT_EQ(kernels::ParticleStepCount(0.1, kTimestep), 10000u);
}

// The book's reference: evolve(0.1) of its three particles.
TEST(ParticlesCpuTest, ReproducesBookReference) {
  ParticleSystem system = BookParticles();
  const std::uint64_t steps = kernels::ParticleStepCount(0.1, kTimestep);
  ASSERT_EQ(EvolveParticles(system, kTimestep, steps, RunControl{}),
            RunOutcome::kCompleted);
  const double expected_x[] = {0.210269, -0.099334, 0.191358};
  const double expected_y[] = {0.543863, -0.490034, -0.365227};
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(system.x[i], expected_x[i], 1e-5) << "particle " << i;
    EXPECT_NEAR(system.y[i], expected_y[i], 1e-5) << "particle " << i;
  }
  // The first particle started at radius sqrt(0.34); the integrator drifts
  // outwards only slowly.
  EXPECT_NEAR(std::hypot(system.x[0], system.y[0]), std::sqrt(0.34), 1e-3);
}

TEST(ParticlesCpuTest, ScalarReproducesBookReference) {
  ParticleSystem system = BookParticles();
  EvolveParticlesScalar(system, kTimestep, 10000);
  EXPECT_NEAR(system.x[0], 0.210269, 1e-5);
  EXPECT_NEAR(system.y[0], 0.543863, 1e-5);
  EXPECT_NEAR(system.x[2], 0.191358, 1e-5);
  EXPECT_NEAR(system.y[2], -0.365227, 1e-5);
}

TEST(ParticlesCpuTest, ParallelMatchesScalarForRandomParticles) {
  for (std::uint32_t n : {1u, 15u, 16u, 17u, 1000u, 4099u}) {
    ParticleSystem expected = RandomParticles(n, /*seed=*/7);
    ParticleSystem actual = expected;
    EvolveParticlesScalar(expected, kTimestep, 777);
    ASSERT_EQ(EvolveParticles(actual, kTimestep, 777, RunControl{}),
              RunOutcome::kCompleted);
    SCOPED_TRACE(n);
    ExpectRelativelyNear(actual, expected, 1e-12);
  }
}

// Every instruction-set variant rounds exactly like the scalar loop (no FMA
// contraction, IEEE division and square root lane by lane).
TEST(ParticlesCpuTest, SimdVariantsMatchScalarBitForBit) {
  const ParticleSystem start = RandomParticles(1003, /*seed=*/11);
  ParticleSystem expected = start;
  EvolveParticlesScalar(expected, kTimestep, 500);
  for (Isa isa : SupportedIsas()) {
    SCOPED_TRACE(IsaName(isa));
    ParticleSystem actual = start;
    internal::EvolveParticleRange(isa, actual.x.data(), actual.y.data(),
                                  actual.w.data(), actual.size(), kTimestep,
                                  500);
    for (std::size_t i = 0; i < start.size(); ++i) {
      ASSERT_EQ(actual.x[i], expected.x[i]) << "particle " << i;
      ASSERT_EQ(actual.y[i], expected.y[i]) << "particle " << i;
    }
  }
}

TEST(ParticlesCpuTest, SameResultForAnyThreadCountAndChunking) {
  const ParticleSystem start = RandomParticles(2500, /*seed=*/3);
  ParticleSystem expected = start;
  EvolveParticlesScalar(expected, kTimestep, 300);
  for (int threads : {1, 2, 4}) {
    for (double chunk_seconds : {0.0, 1e-5, 0.005, 10.0}) {
      SCOPED_TRACE(testing::Message()
                   << threads << " threads, chunk " << chunk_seconds << " s");
      ParticleSystem actual = start;
      RunControl control;
      control.chunk_seconds = chunk_seconds;
      tbb::task_arena arena(threads);
      arena.execute([&] {
        ASSERT_EQ(EvolveParticles(actual, kTimestep, 300, control),
                  RunOutcome::kCompleted);
      });
      EXPECT_EQ(actual.x, expected.x);
      EXPECT_EQ(actual.y, expected.y);
    }
  }
}

TEST(ParticlesCpuTest, RandomParticlesAreDeterministicAndInRange) {
  const ParticleSystem a = RandomParticles(100000, /*seed=*/42);
  const ParticleSystem b = RandomParticles(100000, /*seed=*/42);
  const ParticleSystem c = RandomParticles(100000, /*seed=*/43);
  ASSERT_EQ(a.size(), 100000u);
  ASSERT_EQ(a.y.size(), 100000u);
  ASSERT_EQ(a.w.size(), 100000u);
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.y, b.y);
  EXPECT_EQ(a.w, b.w);
  EXPECT_NE(a.x, c.x);
  // A prefix of a larger set is the smaller set (counter = particle index).
  const ParticleSystem prefix = RandomParticles(10, /*seed=*/42);
  EXPECT_TRUE(std::equal(prefix.x.begin(), prefix.x.end(), a.x.begin()));

  for (const std::vector<double>* values : {&a.x, &a.y, &a.w}) {
    double sum = 0.0;
    for (double v : *values) {
      ASSERT_GE(v, -1.0);
      ASSERT_LT(v, 1.0);
      sum += v;
    }
    // Uniform on [-1, 1): mean 0, standard error ~0.0018 for 1e5 draws.
    EXPECT_NEAR(sum / static_cast<double>(values->size()), 0.0, 0.01);
    const auto [lo, hi] = std::minmax_element(values->begin(), values->end());
    EXPECT_LT(*lo, -0.999);
    EXPECT_GT(*hi, 0.999);
  }
  // Coordinates of one particle are not copies of each other.
  EXPECT_NE(a.x[0], a.y[0]);
  EXPECT_NE(a.y[0], a.w[0]);
}

TEST(ParticlesCpuTest, ProgressIsMonotonicFromCallingThreadAndEndsAtSteps) {
  ParticleSystem system = RandomParticles(100, /*seed=*/1);
  RunControl control;
  control.chunk_seconds = 1e-5;  // many small chunks
  std::vector<std::uint64_t> reported;
  const std::thread::id caller = std::this_thread::get_id();
  bool other_thread = false;
  ASSERT_EQ(EvolveParticles(system, kTimestep, 5000, control,
                            [&](std::uint64_t steps_done) {
                              reported.push_back(steps_done);
                              if (std::this_thread::get_id() != caller) {
                                other_thread = true;
                              }
                            }),
            RunOutcome::kCompleted);
  ASSERT_GT(reported.size(), 1u);
  EXPECT_TRUE(std::is_sorted(reported.begin(), reported.end(),
                             std::less_equal<std::uint64_t>()))
      << "progress must strictly increase";
  EXPECT_GT(reported.front(), 0u);
  EXPECT_EQ(reported.back(), 5000u);
  EXPECT_FALSE(other_thread);
}

TEST(ParticlesCpuTest, CancelFromCallbackStopsAtChunkBoundary) {
  const ParticleSystem start = RandomParticles(64, /*seed=*/5);
  ParticleSystem system = start;
  std::atomic<bool> cancel{false};
  RunControl control;
  control.cancel = &cancel;
  control.chunk_seconds = 0.0;  // one step per chunk
  std::uint64_t last_done = 0;
  int calls = 0;
  const RunOutcome outcome = EvolveParticles(system, kTimestep, 100000, control,
                                             [&](std::uint64_t steps_done) {
                                               ++calls;
                                               last_done = steps_done;
                                               if (steps_done >= 3)
                                                 cancel.store(true);
                                             });
  EXPECT_EQ(outcome, RunOutcome::kCancelled);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(last_done, 3u);
  // The system holds exactly the state after the completed steps.
  ParticleSystem expected = start;
  EvolveParticlesScalar(expected, kTimestep, last_done);
  EXPECT_EQ(system.x, expected.x);
  EXPECT_EQ(system.y, expected.y);
}

TEST(ParticlesCpuTest, CancelBeforeStartLeavesSystemUntouched) {
  const ParticleSystem start = RandomParticles(64, /*seed=*/5);
  ParticleSystem system = start;
  std::atomic<bool> cancel{true};
  RunControl control;
  control.cancel = &cancel;
  int calls = 0;
  EXPECT_EQ(EvolveParticles(system, kTimestep, 1000, control,
                            [&](std::uint64_t) { ++calls; }),
            RunOutcome::kCancelled);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(system.x, start.x);
  EXPECT_EQ(system.y, start.y);
}

TEST(ParticlesCpuTest, ZeroStepsAndEmptySystem) {
  ParticleSystem system = BookParticles();
  int calls = 0;
  EXPECT_EQ(EvolveParticles(system, kTimestep, 0, RunControl{},
                            [&](std::uint64_t) { ++calls; }),
            RunOutcome::kCompleted);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(system.x, BookParticles().x);

  ParticleSystem empty;
  std::uint64_t last_done = 0;
  EXPECT_EQ(EvolveParticles(empty, kTimestep, 10, RunControl{},
                            [&](std::uint64_t done) { last_done = done; }),
            RunOutcome::kCompleted);
  EXPECT_EQ(last_done, 10u);
}

}  // namespace
}  // namespace impulse::cpu
