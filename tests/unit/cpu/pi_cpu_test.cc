#include "compute/cpu/pi_cpu.h"

#include <gtest/gtest.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <thread>
#include <vector>

#include "compute/kernels/philox.h"
#include "compute/kernels/pi.h"

namespace impulse::cpu {
namespace {

constexpr std::uint64_t kSeeds[] = {0, 1, 42, 0xDEADBEEFCAFEF00Dull};

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

PiCount Count(std::uint64_t samples, std::uint64_t seed,
              const RunControl& control = {}) {
  PiCount count;
  EXPECT_EQ(CountPiHits(samples, seed, control, &count),
            RunOutcome::kCompleted);
  EXPECT_EQ(count.samples, samples);
  return count;
}

// Random123's published known answer for Philox4x32-10, counter 0, key 0:
// guards the stream that the CPU and GPU paths share.
TEST(PiCpuTest, PhiloxMatchesRandom123KnownAnswer) {
  const kernels::Philox4x32Block r = kernels::Philox4x32(0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
}

TEST(PiCpuTest, MatchesScalarForOddEvenAndTinySampleCounts) {
  for (std::uint64_t seed : kSeeds) {
    for (std::uint64_t samples : {0ull, 1ull, 2ull, 3ull, 5ull, 64ull, 65ull,
                                  1001ull, 100001ull, (1ull << 20) + 1}) {
      SCOPED_TRACE(testing::Message() << samples << " samples, seed " << seed);
      EXPECT_EQ(Count(samples, seed).hits, CountPiHitsScalar(samples, seed));
    }
  }
}

// The SIMD variants against the scalar block loop, for ranges that start and
// end off the vector width and cross the 2^32 boundary of the counter's low
// word.
TEST(PiCpuTest, SimdVariantsMatchScalarBlocks) {
  struct Range {
    std::uint64_t first;
    std::uint64_t count;
  };
  const Range ranges[] = {{0, 0},
                          {0, 1},
                          {3, 31},
                          {5, 1000},
                          {0, 4096},
                          {(1ull << 32) - 37, 100},
                          {(1ull << 40) + 9, 333}};
  for (Isa isa : SupportedIsas()) {
    for (std::uint64_t seed : kSeeds) {
      for (const Range& range : ranges) {
        std::uint64_t expected = 0;
        for (std::uint64_t b = range.first; b < range.first + range.count;
             ++b) {
          expected += kernels::PiBlockHits(b, seed);
        }
        EXPECT_EQ(internal::PiHitsInBlocks(isa, range.first, range.count, seed),
                  expected)
            << IsaName(isa) << " first=" << range.first
            << " count=" << range.count << " seed=" << seed;
      }
    }
  }
}

TEST(PiCpuTest, IdenticalAcrossThreadCountsAndChunkSizes) {
  constexpr std::uint64_t kSamples = 3'000'001;
  const std::uint64_t expected = CountPiHitsScalar(kSamples, 42);
  for (int threads : {1, 2, 4}) {
    for (double chunk_seconds : {0.0, 1e-4, 0.005, 10.0}) {
      SCOPED_TRACE(testing::Message()
                   << threads << " threads, chunk " << chunk_seconds << " s");
      RunControl control;
      control.chunk_seconds = chunk_seconds;
      tbb::task_arena arena(threads);
      arena.execute(
          [&] { EXPECT_EQ(Count(kSamples, 42, control).hits, expected); });
    }
  }
}

TEST(PiCpuTest, EstimateIsNearPi) {
  const PiCount count = Count(10'000'000, 2024);
  const double estimate = kernels::PiEstimate(count.hits, count.samples);
  EXPECT_NEAR(estimate, std::numbers::pi, 0.002);
}

// Every progress report is the exact count of a prefix of the samples.
TEST(PiCpuTest, PartialCountsAreExactPrefixes) {
  constexpr std::uint64_t kSamples = 40'001;
  RunControl control;
  control.chunk_seconds = 0.0;  // smallest chunks: many reports
  std::vector<PiCount> reports;
  const std::thread::id caller = std::this_thread::get_id();
  bool other_thread = false;
  PiCount final_count;
  ASSERT_EQ(CountPiHits(kSamples, 9, control, &final_count,
                        [&](const PiCount& so_far) {
                          reports.push_back(so_far);
                          if (std::this_thread::get_id() != caller) {
                            other_thread = true;
                          }
                        }),
            RunOutcome::kCompleted);
  EXPECT_FALSE(other_thread);
  ASSERT_GT(reports.size(), 10u);
  std::uint64_t previous = 0;
  for (const PiCount& report : reports) {
    EXPECT_GT(report.samples, previous);
    previous = report.samples;
    EXPECT_EQ(report.hits, CountPiHitsScalar(report.samples, 9))
        << "prefix of " << report.samples << " samples";
  }
  EXPECT_EQ(reports.back().samples, kSamples);
  EXPECT_EQ(final_count.samples, kSamples);
  EXPECT_EQ(final_count.hits, reports.back().hits);
}

TEST(PiCpuTest, CancelFromCallbackReportsCompletedPrefix) {
  constexpr std::uint64_t kSamples = 10'000'000;
  std::atomic<bool> cancel{false};
  RunControl control;
  control.cancel = &cancel;
  control.chunk_seconds = 0.0;
  int calls = 0;
  PiCount last;
  PiCount out;
  const RunOutcome outcome =
      CountPiHits(kSamples, 77, control, &out, [&](const PiCount& so_far) {
        last = so_far;
        if (++calls == 2) cancel.store(true);
      });
  EXPECT_EQ(outcome, RunOutcome::kCancelled);
  EXPECT_EQ(calls, 2);
  EXPECT_LT(out.samples, kSamples);
  EXPECT_EQ(out.samples, last.samples);
  EXPECT_EQ(out.hits, last.hits);
  EXPECT_EQ(out.hits, CountPiHitsScalar(out.samples, 77));
}

TEST(PiCpuTest, CancelBeforeStartCountsNothing) {
  std::atomic<bool> cancel{true};
  RunControl control;
  control.cancel = &cancel;
  PiCount out{.samples = 123, .hits = 45};
  EXPECT_EQ(CountPiHits(1000, 1, control, &out), RunOutcome::kCancelled);
  EXPECT_EQ(out.samples, 0u);
  EXPECT_EQ(out.hits, 0u);
}

TEST(PiCpuTest, DifferentSeedsGiveDifferentStreams) {
  EXPECT_NE(Count(100000, 1).hits, Count(100000, 2).hits);
  // Seeds that differ only in the high key word as well.
  EXPECT_NE(Count(100000, 1).hits, Count(100000, 1 + (1ull << 32)).hits);
}

}  // namespace
}  // namespace impulse::cpu
