#include "server/metrics/moving_average.h"

#include <gtest/gtest.h>

namespace impulse::metrics {
namespace {

TEST(MovingAverageTest, AveragesOverTheLastNValues) {
  MovingAverage avg(3);
  EXPECT_EQ(avg.Value(), 0.0);
  EXPECT_EQ(avg.size(), 0u);
  EXPECT_DOUBLE_EQ(avg.Add(1), 1.0);
  EXPECT_DOUBLE_EQ(avg.Add(2), 1.5);
  EXPECT_FALSE(avg.full());
  EXPECT_DOUBLE_EQ(avg.Add(3), 2.0);
  EXPECT_TRUE(avg.full());
  EXPECT_DOUBLE_EQ(avg.Add(4), 3.0);          // {2, 3, 4}
  EXPECT_DOUBLE_EQ(avg.Add(10), 17.0 / 3.0);  // {3, 4, 10}
  EXPECT_DOUBLE_EQ(avg.Value(), 17.0 / 3.0);
  EXPECT_EQ(avg.size(), 3u);
  EXPECT_EQ(avg.window(), 3u);
  avg.Reset();
  EXPECT_EQ(avg.size(), 0u);
  EXPECT_DOUBLE_EQ(avg.Add(8), 8.0);
}

TEST(MovingAverageTest, WindowOfOneAndZero) {
  MovingAverage one(1), zero(0);
  EXPECT_DOUBLE_EQ(one.Add(5), 5);
  EXPECT_DOUBLE_EQ(one.Add(7), 7);
  EXPECT_DOUBLE_EQ(zero.Add(3), 3);
  EXPECT_EQ(zero.window(), 1u);
}

TEST(MovingAverageTest, NoDriftOverManyValues) {
  MovingAverage avg(10);
  for (int i = 0; i < 1000000; ++i) avg.Add(i % 2 == 0 ? 1e9 : 0.1);
  for (int i = 0; i < 10; ++i) avg.Add(0.3);
  EXPECT_NEAR(avg.Value(), 0.3, 1e-15);
}

}  // namespace
}  // namespace impulse::metrics
