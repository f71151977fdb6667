#include "server/metrics/system_sampler.h"

#include <gtest/gtest.h>

#include <atomic>

#include "tests/unit/metrics/fake_proc.h"

namespace impulse::metrics {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;
using testing::FakeProcStat;

struct Fixture {
  FakeProcStat proc{2};
  FakeClock clock;
  std::atomic<std::uint64_t> finished{0};
  std::atomic<std::int64_t> queue{0};

  SamplerSources Sources(bool with_gpu) {
    SamplerSources s;
    s.read_proc_stat = [this] { return proc.Text(); };
    s.read_meminfo = [] { return std::string(testing::kFakeMeminfo); };
    s.queue_depth = [this] { return queue.load(); };
    s.jobs_finished = [this] { return finished.load(); };
    if (with_gpu) s.gpu_utilization = [] { return 0.75; };
    s.steady_now = [this] { return clock.Now(); };
    return s;
  }
};

TEST(SystemSamplerTest, LoadsMemoryQueueAndJobRate) {
  Fixture f;
  f.finished = 5;
  SystemSampler sampler(f.Sources(/*with_gpu=*/false));

  f.proc.Advance({0.5, 1.0});
  f.clock.Advance(milliseconds(1000));
  f.finished = 15;
  f.queue = 3;
  SystemSample s = sampler.Sample();
  ASSERT_EQ(s.core_load.size(), 2u);
  EXPECT_DOUBLE_EQ(s.core_load[0], 0.5);
  EXPECT_DOUBLE_EQ(s.core_load[1], 1.0);
  EXPECT_DOUBLE_EQ(s.total_load, 0.75);
  EXPECT_EQ(s.mem_total_bytes, 8000000ull * 1024);
  EXPECT_EQ(s.mem_used_bytes, 2000000ull * 1024);
  EXPECT_EQ(s.gpu_utilization, -1.0);
  EXPECT_EQ(s.queue_depth, 3);
  EXPECT_DOUBLE_EQ(s.jobs_per_second, 10.0);
  EXPECT_EQ(s.steady_time, f.clock.Now());

  f.proc.Advance(0.25);
  f.clock.Advance(milliseconds(500));
  f.finished = 20;
  s = sampler.Sample();
  EXPECT_DOUBLE_EQ(s.total_load, 0.25);
  EXPECT_DOUBLE_EQ(s.jobs_per_second, 10.0);  // 5 jobs in 0.5 s

  // No time passed: no rate, and the baseline is kept for the next sample.
  f.finished = 25;
  s = sampler.Sample();
  EXPECT_EQ(s.jobs_per_second, 0.0);
  EXPECT_EQ(s.total_load, 0.0);
  f.clock.Advance(milliseconds(1000));
  s = sampler.Sample();
  EXPECT_DOUBLE_EQ(s.jobs_per_second, 5.0);
}

TEST(SystemSamplerTest, GpuCallback) {
  Fixture f;
  SystemSampler sampler(f.Sources(/*with_gpu=*/true));
  f.clock.Advance(milliseconds(100));
  EXPECT_EQ(sampler.Sample().gpu_utilization, 0.75);
}

TEST(SystemSamplerTest, MissingProcFilesReadZero) {
  SamplerSources s;
  s.read_proc_stat = [] { return std::string(); };
  s.read_meminfo = [] { return std::string(); };
  SystemSampler sampler(std::move(s));
  const SystemSample sample = sampler.Sample();
  EXPECT_TRUE(sample.core_load.empty());
  EXPECT_EQ(sample.total_load, 0.0);
  EXPECT_EQ(sample.mem_total_bytes, 0u);
  EXPECT_EQ(sample.queue_depth, 0);
  EXPECT_EQ(sample.jobs_per_second, 0.0);
}

TEST(SystemSamplerTest, RealProcFiles) {
  if (ReadFileToString("/proc/stat").empty()) GTEST_SKIP() << "no /proc";
  SystemSampler sampler;
  volatile double sink = 0;
  for (int i = 0; i < 2000000; ++i) sink = sink + i * 0.5;
  const SystemSample s = sampler.Sample();
  EXPECT_GE(s.core_load.size(), 1u);
  EXPECT_GE(s.total_load, 0.0);
  EXPECT_LE(s.total_load, 1.0);
  for (double l : s.core_load) {
    EXPECT_GE(l, 0.0);
    EXPECT_LE(l, 1.0);
  }
  EXPECT_GT(s.mem_total_bytes, 0u);
  EXPECT_LE(s.mem_used_bytes, s.mem_total_bytes);
  EXPECT_EQ(s.gpu_utilization, -1.0);
}

}  // namespace
}  // namespace impulse::metrics
