#include "server/metrics/alert_detector.h"

#include <gtest/gtest.h>

#include <vector>

namespace impulse::metrics {
namespace {

using std::chrono::milliseconds;
using T = AlertDetector::Clock::time_point;

AlertDetector::Options Opts(double threshold, milliseconds hold) {
  AlertDetector::Options o;
  o.threshold = threshold;
  o.hold = hold;
  return o;
}

TEST(AlertDetectorTest, RaisedOnlyAfterTheDurationAndClearedOnce) {
  AlertDetector d(Opts(0.8, milliseconds(1000)));
  const T t0{};
  EXPECT_EQ(d.Update(0.5, t0), AlertTransition::kNone);
  EXPECT_EQ(d.Update(0.9, t0 + milliseconds(100)), AlertTransition::kNone);
  ASSERT_TRUE(d.above_since().has_value());
  EXPECT_EQ(*d.above_since(), t0 + milliseconds(100));
  EXPECT_EQ(d.Update(0.95, t0 + milliseconds(600)), AlertTransition::kNone);
  EXPECT_EQ(d.Update(0.95, t0 + milliseconds(1099)), AlertTransition::kNone);
  EXPECT_FALSE(d.active());
  EXPECT_EQ(d.Update(0.85, t0 + milliseconds(1100)), AlertTransition::kRaised);
  EXPECT_TRUE(d.active());
  // Staying high raises nothing more.
  for (int i = 1; i <= 20; ++i) {
    EXPECT_EQ(d.Update(0.99, t0 + milliseconds(1100 + 100 * i)),
              AlertTransition::kNone);
  }
  EXPECT_EQ(d.Update(0.8, t0 + milliseconds(3200)), AlertTransition::kCleared);
  EXPECT_FALSE(d.active());
  EXPECT_FALSE(d.above_since().has_value());
  EXPECT_EQ(d.Update(0.1, t0 + milliseconds(3300)), AlertTransition::kNone);
}

TEST(AlertDetectorTest, ADipRestartsTheHold) {
  AlertDetector d(Opts(0.8, milliseconds(1000)));
  const T t0{};
  EXPECT_EQ(d.Update(0.9, t0), AlertTransition::kNone);
  EXPECT_EQ(d.Update(0.7, t0 + milliseconds(600)), AlertTransition::kNone);
  EXPECT_EQ(d.Update(0.9, t0 + milliseconds(800)), AlertTransition::kNone);
  EXPECT_EQ(d.Update(0.9, t0 + milliseconds(1500)), AlertTransition::kNone);
  EXPECT_EQ(d.Update(0.9, t0 + milliseconds(1800)), AlertTransition::kRaised);
}

TEST(AlertDetectorTest, OneRaiseOneClearPerEpisode) {
  AlertDetector d(Opts(0.5, milliseconds(300)));
  // 100 ms samples: short spikes, then a long high episode, then low again.
  const std::vector<double> values = {0.1, 0.9, 0.2, 0.9, 0.9, 0.1, 0.9,
                                      0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9,
                                      0.2, 0.1, 0.1, 0.4, 0.1, 0.2};
  int raised = 0, cleared = 0, raised_at = -1, cleared_at = -1;
  for (std::size_t i = 0; i < values.size(); ++i) {
    switch (d.Update(values[i], T{} + milliseconds(100 * i))) {
      case AlertTransition::kRaised:
        ++raised;
        raised_at = static_cast<int>(i);
        break;
      case AlertTransition::kCleared:
        ++cleared;
        cleared_at = static_cast<int>(i);
        break;
      case AlertTransition::kNone:
        break;
    }
  }
  EXPECT_EQ(raised, 1);
  EXPECT_EQ(cleared, 1);
  EXPECT_EQ(raised_at, 9);  // above since sample 6, 300 ms later
  EXPECT_EQ(cleared_at, 14);
}

TEST(AlertDetectorTest, ZeroHoldRaisesOnFirstHighValue) {
  AlertDetector d(Opts(0.5, milliseconds(0)));
  EXPECT_EQ(d.Update(0.6, T{}), AlertTransition::kRaised);
  EXPECT_EQ(d.Update(0.6, T{} + milliseconds(1)), AlertTransition::kNone);
}

TEST(AlertDetectorTest, OptionalClearThresholdAddsHysteresis) {
  auto o = Opts(0.8, milliseconds(0));
  o.clear_threshold = 0.6;
  AlertDetector d(o);
  const T t0{};
  EXPECT_EQ(d.Update(0.9, t0), AlertTransition::kRaised);
  EXPECT_EQ(d.Update(0.7, t0 + milliseconds(1)), AlertTransition::kNone);
  EXPECT_TRUE(d.active());
  EXPECT_EQ(d.Update(0.9, t0 + milliseconds(2)), AlertTransition::kNone);
  EXPECT_EQ(d.Update(0.6, t0 + milliseconds(3)), AlertTransition::kCleared);
}

TEST(AlertDetectorTest, NanCountsAsBelow) {
  AlertDetector d(Opts(0.5, milliseconds(0)));
  EXPECT_EQ(d.Update(0.9, T{}), AlertTransition::kRaised);
  EXPECT_EQ(d.Update(std::numeric_limits<double>::quiet_NaN(), T{}),
            AlertTransition::kCleared);
}

}  // namespace
}  // namespace impulse::metrics
