// GPU vs CPU: every test needs a CUDA device and skips (GTEST_SKIP, reported as
// skipped, not failed) on machines without one, such as CI.
#include "compute/gpu/gpu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "compute/common/run_control.h"
#include "compute/common/status.h"
#include "compute/kernels/particles.h"
#include "tests/gpu/reference.h"

namespace impulse::gpu {
namespace {

using Clock = std::chrono::steady_clock;
using testing::RandomParticles;
using testing::RandomPoints;
using testing::ReferenceDistanceRows;
using testing::ReferenceEvolve;
using testing::ReferencePiHits;

double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HasDevice()) {
      GTEST_SKIP() << "no CUDA device found (" << NoDeviceReason()
                   << "); GPU test skipped";
    }
    StreamPoolOptions options;
    options.streams_per_device = 8;
    auto pool = StreamPool::Create(options);
    ASSERT_TRUE(pool.ok()) << pool.error().ToString();
    pool_ = std::move(pool.value());
  }

  StreamLease Lease() {
    StreamLease lease = pool_->Acquire();
    EXPECT_TRUE(lease.valid());
    return lease;
  }

  std::unique_ptr<StreamPool> pool_;
};

// |gpu - cpu| relative to the particle's distance from the origin (a
// coordinate can be near zero while the particle is not).
void ExpectParticlesNear(const ParticleSystem& gpu, const ParticleSystem& cpu,
                         double tolerance) {
  ASSERT_EQ(gpu.size(), cpu.size());
  double worst = 0.0;
  std::size_t identical = 0;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    const double radius = std::max(std::hypot(cpu.x[i], cpu.y[i]), 1e-300);
    const double error =
        std::max(std::abs(gpu.x[i] - cpu.x[i]), std::abs(gpu.y[i] - cpu.y[i])) /
        radius;
    worst = std::max(worst, error);
    identical += gpu.x[i] == cpu.x[i] && gpu.y[i] == cpu.y[i];
    if (error > tolerance) {
      ADD_FAILURE() << "particle " << i << ": gpu (" << gpu.x[i] << ", "
                    << gpu.y[i] << ") cpu (" << cpu.x[i] << ", " << cpu.y[i]
                    << ") relative error " << error;
      return;
    }
  }
  std::printf("  max relative error %.3g; %zu of %zu particles bit-identical\n",
              worst, identical, cpu.size());
}

TEST_F(GpuTest, DevicesAreDescribed) {
  for (const DeviceInfo& d : DiscoverDevices()) {
    std::printf("  device %d: %s, %.1f GiB, sm_%d%d, %d SMs\n", d.index,
                d.name.c_str(), d.total_memory_bytes / 1073741824.0,
                d.compute_capability_major, d.compute_capability_minor,
                d.multiprocessors);
    EXPECT_FALSE(d.name.empty());
    EXPECT_GT(d.total_memory_bytes, 0u);
    EXPECT_GT(d.multiprocessors, 0);
    EXPECT_GE(d.compute_capability_major, 7);
  }
}

TEST_F(GpuTest, PiCountsEqualTheScalarLoop) {
  StreamLease lease = Lease();
  const std::uint64_t cases[][2] = {{1, 0},          {2, 1},
                                    {3, 7},          {1001, 42},
                                    {10000001, 123}, {100000001, 2024},
                                    {200000000, 5}};
  for (const auto& c : cases) {
    PiCount count;
    auto outcome = CountPiHits(lease, c[0], c[1], RunControl{}, &count);
    ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
    EXPECT_EQ(outcome.value(), RunOutcome::kCompleted);
    EXPECT_EQ(count.samples, c[0]);
    EXPECT_EQ(count.hits, ReferencePiHits(c[0], c[1]))
        << "samples " << c[0] << " seed " << c[1];
  }
}

TEST_F(GpuTest, PiProgressReportsExactPrefixes) {
  StreamLease lease = Lease();
  RunControl control;
  control.chunk_seconds = 1e-4;  // many small chunks
  std::vector<PiCount> reports;
  PiCount count;
  const std::uint64_t samples = 1000000001;
  auto outcome =
      CountPiHits(lease, samples, 99, control, &count,
                  [&](const PiCount& so_far) { reports.push_back(so_far); });
  ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
  ASSERT_GE(reports.size(), 2u);
  std::printf("  %zu progress reports\n", reports.size());
  for (std::size_t i = 1; i < reports.size(); ++i) {
    EXPECT_GT(reports[i].samples, reports[i - 1].samples);
    EXPECT_GE(reports[i].hits, reports[i - 1].hits);
  }
  EXPECT_EQ(reports.back().samples, samples);
  EXPECT_EQ(reports.back().hits, count.hits);
  // The first few prefixes are exact counts of [0, samples).
  for (std::size_t i = 0; i < std::min<std::size_t>(3, reports.size()); ++i) {
    if (reports[i].samples > 1000000000) break;
    EXPECT_EQ(reports[i].hits, ReferencePiHits(reports[i].samples, 99));
  }
  EXPECT_EQ(count.hits, ReferencePiHits(samples, 99));
}

TEST_F(GpuTest, PiWithoutLeaseUsesTheDefaultPool) {
  PiCount count;
  auto outcome = CountPiHits(1000001, 3, RunControl{}, &count);
  ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
  EXPECT_EQ(count.hits, ReferencePiHits(1000001, 3));
}

TEST_F(GpuTest, ParticlesMatchTheBookReference) {
  ParticleSystem gpu;
  gpu.x = {0.3, 0.0, -0.1};
  gpu.y = {0.5, -0.5, -0.4};
  gpu.w = {1.0, -1.0, 3.0};
  ParticleSystem cpu = gpu;
  const std::uint64_t steps = 10000;  // evolve(0.1) at timestep 1e-5
  EXPECT_EQ(kernels::ParticleStepCount(0.1, kernels::kDefaultTimestep), steps);
  StreamLease lease = Lease();
  std::vector<std::uint64_t> progress;
  auto outcome = EvolveParticles(
      lease, gpu, kernels::kDefaultTimestep, steps, RunControl{},
      [&](std::uint64_t done) { progress.push_back(done); });
  ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
  EXPECT_EQ(outcome.value(), RunOutcome::kCompleted);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), steps);
  ReferenceEvolve(cpu, kernels::kDefaultTimestep, steps);
  ExpectParticlesNear(gpu, cpu, 1e-9);
  const double book[3][2] = {
      {0.210269, 0.543863}, {-0.099334, -0.490034}, {0.191358, -0.365227}};
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(gpu.x[i], book[i][0], 1e-5) << "particle " << i;
    EXPECT_NEAR(gpu.y[i], book[i][1], 1e-5) << "particle " << i;
  }
}

TEST_F(GpuTest, MillionRandomParticlesMatchTheCpu) {
  ParticleSystem gpu = RandomParticles(1000000, 7);
  ParticleSystem cpu = gpu;
  const std::uint64_t steps = 200;
  StreamLease lease = Lease();
  auto outcome = EvolveParticles(lease, gpu, kernels::kDefaultTimestep, steps,
                                 RunControl{});
  ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
  EXPECT_EQ(outcome.value(), RunOutcome::kCompleted);
  ReferenceEvolve(cpu, kernels::kDefaultTimestep, steps);
  ExpectParticlesNear(gpu, cpu, 1e-9);
  EXPECT_EQ(gpu.w, cpu.w);
}

// Checks a streamed matrix block by block against the CPU double loop.
void CheckDistanceMatrix(StreamLease& lease, std::size_t n,
                         std::size_t block_rows) {
  const std::vector<double> points = RandomPoints(n, n);
  std::size_t next_row = 0;
  std::uint64_t last_progress = 0;
  double worst = 0.0;
  std::vector<double> expected;
  Status status = StreamDistanceMatrix(
      lease, points, 2, block_rows, RunControl{},
      [&](std::size_t row_begin, std::size_t row_end,
          std::span<const double> rows) -> Status {
        EXPECT_EQ(row_begin, next_row);
        EXPECT_GT(row_end, row_begin);
        EXPECT_EQ(rows.size(), (row_end - row_begin) * n);
        next_row = row_end;
        expected.resize(rows.size());
        ReferenceDistanceRows(points, row_begin, row_end, expected.data());
        for (std::size_t k = 0; k < rows.size(); ++k) {
          const double error = std::abs(rows[k] - expected[k]);
          const double relative =
              expected[k] == 0.0 ? error : error / expected[k];
          worst = std::max(worst, relative);
        }
        return {};
      },
      [&](std::uint64_t done, std::uint64_t total) {
        EXPECT_EQ(total, n);
        EXPECT_GT(done, last_progress);
        last_progress = done;
      });
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_EQ(next_row, n);
  EXPECT_EQ(last_progress, n);
  EXPECT_LE(worst, 1e-12) << "n " << n << " block_rows " << block_rows;
  std::printf("  n=%zu block_rows=%zu: max relative error %.3g\n", n,
              block_rows, worst);
}

TEST_F(GpuTest, DistanceMatrixMatchesTheCpu) {
  StreamLease lease = Lease();
  CheckDistanceMatrix(lease, 1, 0);
  CheckDistanceMatrix(lease, 33, 0);
  CheckDistanceMatrix(lease, 2049, 100);   // neither a multiple of the tile
  CheckDistanceMatrix(lease, 500, 10000);  // one block
  CheckDistanceMatrix(lease, 10000, 0);    // the book's N
}

TEST_F(GpuTest, DistanceMatrixRejectsBadInput) {
  StreamLease lease = Lease();
  const std::vector<double> points = {0.0, 1.0, 2.0};
  auto ignore = [](std::size_t, std::size_t, std::span<const double>) {
    return Status();
  };
  Status status =
      StreamDistanceMatrix(lease, points, 3, 0, RunControl{}, ignore);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.error().field, "dims");
  status = StreamDistanceMatrix(lease, points, 2, 0, RunControl{}, ignore);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().field, "points");
}

TEST_F(GpuTest, DistanceCallbackErrorStopsTheStream) {
  StreamLease lease = Lease();
  const std::vector<double> points = RandomPoints(1000, 1);
  int calls = 0;
  Status status = StreamDistanceMatrix(
      lease, points, 2, 10, RunControl{},
      [&](std::size_t, std::size_t, std::span<const double>) -> Status {
        ++calls;
        return Error{ErrorCode::kUnavailable, "client went away", ""};
      });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(calls, 1);
}

TEST_F(GpuTest, CancelParticlesMidRun) {
  ParticleSystem system = RandomParticles(1000000, 11);
  std::atomic<bool> cancel{false};
  RunControl control;
  control.cancel = &cancel;
  Clock::time_point cancelled_at;
  std::uint64_t reports = 0;
  StreamLease lease = Lease();
  const std::uint64_t steps = 1000000000;  // hours of work
  auto outcome = EvolveParticles(lease, system, kernels::kDefaultTimestep,
                                 steps, control, [&](std::uint64_t done) {
                                   EXPECT_LT(done, steps);
                                   if (++reports == 3) {
                                     cancelled_at = Clock::now();
                                     cancel = true;
                                   }
                                 });
  const double latency = Millis(Clock::now() - cancelled_at);
  ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
  EXPECT_EQ(outcome.value(), RunOutcome::kCancelled);
  std::printf("  cancel observed and returned in %.2f ms\n", latency);
  EXPECT_LT(latency, 50.0);
}

TEST_F(GpuTest, CancelledParticlesHoldTheLastReportedState) {
  ParticleSystem gpu = RandomParticles(1000, 12);
  ParticleSystem cpu = gpu;
  std::atomic<bool> cancel{false};
  RunControl control;
  control.cancel = &cancel;
  std::uint64_t last = 0;
  StreamLease lease = Lease();
  auto outcome = EvolveParticles(lease, gpu, kernels::kDefaultTimestep,
                                 1000000000, control, [&](std::uint64_t done) {
                                   last = done;
                                   cancel = true;
                                 });
  ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
  EXPECT_EQ(outcome.value(), RunOutcome::kCancelled);
  ASSERT_GT(last, 0u);
  std::printf("  cancelled after %llu steps\n",
              static_cast<unsigned long long>(last));
  ReferenceEvolve(cpu, kernels::kDefaultTimestep, last);
  ExpectParticlesNear(gpu, cpu, 1e-9);
}

TEST_F(GpuTest, CancelPiMidRun) {
  std::atomic<bool> cancel{false};
  RunControl control;
  control.cancel = &cancel;
  Clock::time_point cancelled_at;
  PiCount count;
  StreamLease lease = Lease();
  const std::uint64_t samples = std::uint64_t{1} << 52;
  auto outcome =
      CountPiHits(lease, samples, 5, control, &count, [&](const PiCount&) {
        if (!cancel) {
          cancelled_at = Clock::now();
          cancel = true;
        }
      });
  const double latency = Millis(Clock::now() - cancelled_at);
  ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
  EXPECT_EQ(outcome.value(), RunOutcome::kCancelled);
  EXPECT_LT(count.samples, samples);
  std::printf("  cancelled after %llu samples in %.2f ms\n",
              static_cast<unsigned long long>(count.samples), latency);
  EXPECT_LT(latency, 50.0);
  if (count.samples <= 2000000000) {
    EXPECT_EQ(count.hits, ReferencePiHits(count.samples, 5));
  }
}

TEST_F(GpuTest, CancelDistanceMatrixMidRun) {
  const std::size_t n = 100000;  // 80 GB matrix: never finishes in time
  const std::vector<double> points = RandomPoints(n, 3);
  std::atomic<bool> cancel{false};
  RunControl control;
  control.cancel = &cancel;
  Clock::time_point cancelled_at;
  std::size_t next_row = 0;
  StreamLease lease = Lease();
  Status status =
      StreamDistanceMatrix(lease, points, 2, 0, control,
                           [&](std::size_t row_begin, std::size_t row_end,
                               std::span<const double>) -> Status {
                             EXPECT_EQ(row_begin, next_row);
                             next_row = row_end;
                             if (!cancel) {
                               cancelled_at = Clock::now();
                               cancel = true;
                             }
                             return {};
                           });
  const double latency = Millis(Clock::now() - cancelled_at);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kCancelled);
  EXPECT_LT(next_row, n);
  std::printf("  cancelled after %zu rows in %.2f ms\n", next_row, latency);
  EXPECT_LT(latency, 50.0);
}

TEST_F(GpuTest, EightConcurrentJobsOnEightStreams) {
  constexpr int kJobs = 8;
  std::latch all_leased(kJobs);
  std::mutex mu;
  std::set<std::pair<int, int>> streams;
  std::vector<std::string> failures(kJobs);
  std::vector<std::thread> threads;
  for (int job = 0; job < kJobs; ++job) {
    threads.emplace_back([&, job] {
      StreamLease lease = pool_->Acquire(DiscoverDevices()[0].index);
      {
        std::lock_guard<std::mutex> lock(mu);
        streams.insert({lease.device(), lease.stream_index()});
      }
      all_leased.arrive_and_wait();  // all eight run at the same time
      std::string& failure = failures[job];
      if (job % 3 == 0) {
        PiCount count;
        auto outcome = CountPiHits(lease, 300000001, job, RunControl{}, &count);
        if (!outcome.ok()) {
          failure = outcome.error().ToString();
        } else if (count.hits != ReferencePiHits(300000001, job)) {
          failure = "pi count differs from the CPU";
        }
      } else if (job % 3 == 1) {
        ParticleSystem gpu = RandomParticles(100000, job);
        ParticleSystem cpu = gpu;
        auto outcome = EvolveParticles(lease, gpu, kernels::kDefaultTimestep,
                                       2000, RunControl{});
        ReferenceEvolve(cpu, kernels::kDefaultTimestep, 2000);
        if (!outcome.ok()) {
          failure = outcome.error().ToString();
        } else {
          for (std::size_t i = 0; i < cpu.size(); ++i) {
            if (std::abs(gpu.x[i] - cpu.x[i]) > 1e-9 ||
                std::abs(gpu.y[i] - cpu.y[i]) > 1e-9) {
              failure = "particle " + std::to_string(i) + " differs";
              break;
            }
          }
        }
      } else {
        const std::vector<double> points = RandomPoints(3000, job);
        std::vector<double> expected;
        Status status = StreamDistanceMatrix(
            lease, points, 2, 64, RunControl{},
            [&](std::size_t begin, std::size_t end,
                std::span<const double> rows) -> Status {
              expected.resize(rows.size());
              ReferenceDistanceRows(points, begin, end, expected.data());
              for (std::size_t k = 0; k < rows.size(); ++k) {
                if (std::abs(rows[k] - expected[k]) > 1e-12) {
                  return Error{ErrorCode::kInternal, "distance differs", ""};
                }
              }
              return {};
            });
        if (!status.ok()) failure = status.error().ToString();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(streams.size(), static_cast<std::size_t>(kJobs));
  for (int job = 0; job < kJobs; ++job) {
    EXPECT_EQ(failures[job], "") << "job " << job;
  }
  EXPECT_EQ(pool_->idle_streams(), pool_->total_streams());
}

TEST_F(GpuTest, CudaErrorFailsOnlyThatJob) {
  StreamLease bad = Lease();
  StreamLease good = Lease();
  // A row block of 10^6 x 10^6 doubles (8 TB) cannot be allocated.
  const std::vector<double> points = RandomPoints(1000000, 9);
  Status status =
      StreamDistanceMatrix(bad, points, 2, 1000000, RunControl{},
                           [](std::size_t, std::size_t,
                              std::span<const double>) { return Status(); });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInternal);
  EXPECT_NE(status.error().message.find("cudaMallocAsync"), std::string::npos)
      << status.error().message;
  std::printf("  error: %s\n", status.error().message.c_str());
  // Both streams, including the one that failed, keep working.
  for (StreamLease* lease : {&bad, &good}) {
    PiCount count;
    auto outcome = CountPiHits(*lease, 1000001, 1, RunControl{}, &count);
    ASSERT_TRUE(outcome.ok()) << outcome.error().ToString();
    EXPECT_EQ(count.hits, ReferencePiHits(1000001, 1));
  }
}

TEST_F(GpuTest, StreamPoolHandsOutEachStreamOnce) {
  StreamPoolOptions options;
  options.streams_per_device = 2;
  auto created = StreamPool::Create(options);
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  StreamPool& pool = *created.value();
  const int device = DiscoverDevices()[0].index;
  std::optional<StreamLease> a = pool.TryAcquire(device);
  std::optional<StreamLease> b = pool.TryAcquire(device);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->stream_index(), b->stream_index());
  EXPECT_FALSE(pool.TryAcquire(device).has_value());
  EXPECT_FALSE(
      pool.AcquireFor(std::chrono::milliseconds(10), device).has_value());
  EXPECT_FALSE(pool.TryAcquire(device + 1000).has_value());
  StreamLease moved = std::move(*a);
  EXPECT_FALSE(a->valid());
  EXPECT_TRUE(moved.valid());
  moved.Release();
  EXPECT_FALSE(moved.valid());
  std::optional<StreamLease> c = pool.TryAcquire(device);
  ASSERT_TRUE(c.has_value());
  PiCount count;
  EXPECT_FALSE(CountPiHits(moved, 10, 1, RunControl{}, &count).ok());
  EXPECT_TRUE(CountPiHits(*c, 10, 1, RunControl{}, &count).ok());
}

TEST_F(GpuTest, EmptyAndInvalidInputs) {
  StreamLease lease = Lease();
  PiCount count;
  auto pi = CountPiHits(lease, 0, 1, RunControl{}, &count);
  ASSERT_TRUE(pi.ok());
  EXPECT_EQ(count.samples, 0u);
  ParticleSystem empty;
  EXPECT_TRUE(EvolveParticles(lease, empty, 1e-5, 10, RunControl{}).ok());
  ParticleSystem ragged;
  ragged.x = {1.0, 2.0};
  ragged.y = {1.0};
  ragged.w = {1.0, 2.0};
  auto bad = EvolveParticles(lease, ragged, 1e-5, 10, RunControl{});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().field, "particles");
}

}  // namespace
}  // namespace impulse::gpu
