#include "proto/duration_text.h"

#include <gtest/gtest.h>

namespace impulse {
namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds Parse(std::string_view text) {
  std::chrono::nanoseconds out{-1};
  EXPECT_TRUE(ParseDuration(text, &out)) << text;
  return out;
}

TEST(DurationTextTest, ParsesEachUnitFractionsAndSums) {
  EXPECT_EQ(Parse("0"), 0ns);
  EXPECT_EQ(Parse("0s"), 0ns);
  EXPECT_EQ(Parse("7ns"), 7ns);
  EXPECT_EQ(Parse("250us"), 250us);
  EXPECT_EQ(Parse("250ms"), 250ms);
  EXPECT_EQ(Parse("90s"), 90s);
  EXPECT_EQ(Parse("15m"), 15min);
  EXPECT_EQ(Parse("24h"), 24h);
  EXPECT_EQ(Parse("7d"), 7 * 24h);
  EXPECT_EQ(Parse("1.5h"), 90min);
  EXPECT_EQ(Parse("0.25s"), 250ms);
  EXPECT_EQ(Parse("1h30m"), 90min);
  EXPECT_EQ(Parse("1m30s500ms"), 90500ms);
}

TEST(DurationTextTest, RefusesWhatIsNotADuration) {
  std::chrono::nanoseconds out{};
  for (std::string_view bad : {"", "s", "10", "-5s", "5 s", "5sec", "1.2.3s",
                               "h1", ".s", "5x", "1e3s", "99999999999d"}) {
    EXPECT_FALSE(ParseDuration(bad, &out)) << bad;
  }
}

TEST(DurationTextTest, FormatsInTheLargestExactUnit) {
  EXPECT_EQ(FormatDuration(0ns), "0s");
  EXPECT_EQ(FormatDuration(48h), "2d");
  EXPECT_EQ(FormatDuration(36h), "36h");
  EXPECT_EQ(FormatDuration(90min), "90m");
  EXPECT_EQ(FormatDuration(45s), "45s");
  EXPECT_EQ(FormatDuration(1500ms), "1500ms");
  EXPECT_EQ(FormatDuration(250us), "250us");
  EXPECT_EQ(FormatDuration(7ns), "7ns");
  EXPECT_EQ(FormatDuration(-2s), "-2s");
  for (std::chrono::nanoseconds d :
       {std::chrono::nanoseconds(1ns), std::chrono::nanoseconds(999ms),
        std::chrono::nanoseconds(25h), std::chrono::nanoseconds(3h + 1s)}) {
    std::chrono::nanoseconds back{};
    ASSERT_TRUE(ParseDuration(FormatDuration(d), &back)) << d.count();
    EXPECT_EQ(back, d);
  }
}

}  // namespace
}  // namespace impulse
