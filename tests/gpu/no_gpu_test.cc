// Runs everywhere, GPU or not: discovery never fails, and without a device
// every GPU entry point returns a clean error instead of crashing.
#include <gtest/gtest.h>

#include <cstdio>
#include <span>
#include <vector>

#include "compute/common/run_control.h"
#include "compute/common/status.h"
#include "compute/gpu/gpu.h"

namespace impulse::gpu {
namespace {

TEST(NoGpuTest, DiscoveryNeverFails) {
  const std::vector<DeviceInfo> devices = DiscoverDevices();
  EXPECT_EQ(DiscoverDevices().size(), devices.size());  // cached, stable
  EXPECT_EQ(HasDevice(), !devices.empty());
  if (devices.empty()) {
    std::printf("  no CUDA device: %s\n", NoDeviceReason().c_str());
    EXPECT_FALSE(NoDeviceReason().empty());
  } else {
    EXPECT_EQ(NoDeviceReason(), "");
    for (const DeviceInfo& d : devices) {
      std::printf("  device %d: %s\n", d.index, d.name.c_str());
      EXPECT_FALSE(d.name.empty());
    }
  }
}

TEST(NoGpuTest, EmptyLeaseIsFailedPrecondition) {
  StreamLease lease;
  EXPECT_FALSE(lease.valid());
  EXPECT_EQ(lease.device(), -1);
  PiCount count;
  auto pi = CountPiHits(lease, 100, 1, RunControl{}, &count);
  ASSERT_FALSE(pi.ok());
  EXPECT_EQ(pi.error().code, ErrorCode::kFailedPrecondition);
  ParticleSystem system;
  system.x = {0.3};
  system.y = {0.5};
  system.w = {1.0};
  auto particles = EvolveParticles(lease, system, 1e-5, 10, RunControl{});
  ASSERT_FALSE(particles.ok());
  EXPECT_EQ(particles.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(system.x[0], 0.3);  // untouched
  const std::vector<double> points = {0.0, 0.0, 1.0, 1.0};
  Status distance =
      StreamDistanceMatrix(lease, points, 2, 0, RunControl{},
                           [](std::size_t, std::size_t,
                              std::span<const double>) { return Status(); });
  ASSERT_FALSE(distance.ok());
  EXPECT_EQ(distance.error().code, ErrorCode::kFailedPrecondition);
}

// Without a device the pool and the pool-less job entry points report
// kFailedPrecondition (the server's "GPU requested but none present"); with
// one they run.
TEST(NoGpuTest, JobsWithoutDeviceFailCleanly) {
  PiCount count;
  auto pi = CountPiHits(1001, 1, RunControl{}, &count);
  ParticleSystem system;
  system.x = {0.3, 0.0};
  system.y = {0.5, -0.5};
  system.w = {1.0, -1.0};
  auto particles = EvolveParticles(system, 1e-5, 100, RunControl{});
  const std::vector<double> points = {0.0, 0.0, 3.0, 4.0};
  double far = 0.0;
  Status distance = StreamDistanceMatrix(
      points, 2, 0, RunControl{},
      [&](std::size_t, std::size_t, std::span<const double> rows) {
        far = rows[1];
        return Status();
      });
  auto pool = StreamPool::Create();
  if (HasDevice()) {
    EXPECT_TRUE(pool.ok());
    EXPECT_TRUE(pi.ok());
    EXPECT_TRUE(particles.ok());
    EXPECT_TRUE(distance.ok());
    EXPECT_EQ(far, 5.0);
    return;
  }
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.error().code, ErrorCode::kFailedPrecondition);
  std::printf("  StreamPool::Create: %s\n", pool.error().ToString().c_str());
  ASSERT_FALSE(pi.ok());
  EXPECT_EQ(pi.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(count.samples, 0u);
  ASSERT_FALSE(particles.ok());
  EXPECT_EQ(particles.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(system.x[0], 0.3);
  ASSERT_FALSE(distance.ok());
  EXPECT_EQ(distance.error().code, ErrorCode::kFailedPrecondition);
  auto default_pool = StreamPool::Default();
  ASSERT_FALSE(default_pool.ok());
  EXPECT_EQ(default_pool.error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace impulse::gpu
