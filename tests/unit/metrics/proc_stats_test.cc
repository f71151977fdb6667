#include "server/metrics/proc_stats.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace impulse::metrics {
namespace {

constexpr std::string_view kStatBefore =
    "cpu  100 0 50 800 50 0 0 0 0 0\n"
    "cpu0 60 0 30 400 10 0 0 0 0 0\n"
    "cpu1 40 0 20 400 40 0 0 0 0 0\n"
    "intr 1925252 0 0 0 0\n"
    "ctxt 3112491\n"
    "btime 1795616822\n"
    "processes 72346\n"
    "procs_running 5\n"
    "procs_blocked 0\n"
    "softirq 700840 0 96570 4 112707\n";

constexpr std::string_view kStatAfter =
    "cpu  200 0 100 1000 70 0 0 0 0 0\n"
    "cpu0 150 0 60 420 10 0 0 0 0 0\n"
    "cpu1 50 0 40 580 60 0 0 0 0 0\n"
    "intr 1925300 0 0 0 0\n"
    "ctxt 3112600\n";

TEST(ProcStatTest, ParsesTotalAndPerCoreLines) {
  const auto stat = ParseProcStat(kStatBefore);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->total, (CpuTimes{100, 0, 50, 800, 50, 0, 0, 0}));
  ASSERT_EQ(stat->cores.size(), 2u);
  EXPECT_EQ(stat->cores[0], (CpuTimes{60, 0, 30, 400, 10, 0, 0, 0}));
  EXPECT_EQ(stat->cores[1], (CpuTimes{40, 0, 20, 400, 40, 0, 0, 0}));
  EXPECT_EQ(stat->total.Total(), 1000u);
  EXPECT_EQ(stat->total.Idle(), 850u);
}

TEST(ProcStatTest, AllEightFieldsAndIgnoresGuest) {
  const auto stat = ParseProcStat("cpu  1 2 3 4 5 6 7 8 9 10\n");
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->total, (CpuTimes{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(stat->total.Total(), 36u);  // guest 9 and guest_nice 10 excluded
  EXPECT_TRUE(stat->cores.empty());
}

TEST(ProcStatTest, OldKernelsAndOfflineCpus) {
  // Four fields only (2.4 kernels) and cpu1 offline (absent).
  const auto stat = ParseProcStat(
      "cpu  10 0 10 80\n"
      "cpu0 5 0 5 40\n"
      "cpu2 5 0 5 40");  // no trailing newline
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->total, (CpuTimes{10, 0, 10, 80, 0, 0, 0, 0}));
  ASSERT_EQ(stat->cores.size(), 3u);
  EXPECT_EQ(stat->cores[1], CpuTimes{});
  EXPECT_EQ(stat->cores[2].idle, 40u);
}

TEST(ProcStatTest, RejectsTextWithoutCpuLine) {
  EXPECT_FALSE(ParseProcStat("").has_value());
  EXPECT_FALSE(ParseProcStat("intr 1 2 3\nctxt 4\n").has_value());
  EXPECT_FALSE(ParseProcStat("cpu0 1 2 3 4\n").has_value());
}

TEST(ProcStatTest, BusyFractionBetweenTwoSamples) {
  const auto before = ParseProcStat(kStatBefore);
  const auto after = ParseProcStat(kStatAfter);
  ASSERT_TRUE(before && after);
  // total: busy +100 user +50 system = 150; idle +200 idle +20 iowait = 220.
  EXPECT_DOUBLE_EQ(BusyFraction(before->total, after->total), 150.0 / 370.0);
  const std::vector<double> cores = PerCoreBusyFractions(*before, *after);
  ASSERT_EQ(cores.size(), 2u);
  EXPECT_DOUBLE_EQ(cores[0], 120.0 / 140.0);  // busy 90+30, idle 20+0
  EXPECT_DOUBLE_EQ(cores[1], 30.0 / 230.0);   // busy 10+20, idle 180+20
}

TEST(ProcStatTest, BusyFractionEdgeCases) {
  const CpuTimes a{100, 0, 0, 100, 0, 0, 0, 0};
  EXPECT_EQ(BusyFraction(a, a), 0.0);  // no time passed
  const CpuTimes all_busy{200, 0, 0, 100, 0, 0, 0, 0};
  EXPECT_EQ(BusyFraction(a, all_busy), 1.0);
  const CpuTimes all_idle{100, 0, 0, 300, 0, 0, 0, 0};
  EXPECT_EQ(BusyFraction(a, all_idle), 0.0);
  // irq, softirq, steal and nice count as busy; iowait as idle.
  const CpuTimes b{0, 0, 0, 0, 0, 0, 0, 0};
  const CpuTimes c{0, 1, 0, 0, 4, 1, 1, 1};
  EXPECT_DOUBLE_EQ(BusyFraction(b, c), 0.5);
  // A counter that went backwards (hot-plug) counts as no change.
  const CpuTimes reset{50, 0, 0, 150, 0, 0, 0, 0};
  EXPECT_EQ(BusyFraction(a, reset), 0.0);
}

TEST(ProcStatTest, CoreMissingFromEarlierSampleReadsZero) {
  const auto before = ParseProcStat("cpu  1 0 1 1\ncpu0 1 0 1 1\n");
  const auto after =
      ParseProcStat("cpu  9 0 9 9\ncpu0 5 0 5 5\ncpu1 4 0 4 4\n");
  const auto cores = PerCoreBusyFractions(*before, *after);
  ASSERT_EQ(cores.size(), 2u);
  EXPECT_DOUBLE_EQ(cores[0], 8.0 / 12.0);
  EXPECT_EQ(cores[1], 0.0);
}

TEST(MeminfoTest, ParsesTotalAndAvailable) {
  const auto mem = ParseMeminfo(
      "MemTotal:       16384000 kB\n"
      "MemFree:         1000000 kB\n"
      "MemAvailable:    4096000 kB\n"
      "Buffers:           11172 kB\n"
      "Cached:          1287856 kB\n"
      "HugePages_Total:       0\n");
  ASSERT_TRUE(mem.has_value());
  EXPECT_EQ(mem->total_bytes, 16384000ull * 1024);
  EXPECT_EQ(mem->available_bytes, 4096000ull * 1024);
  EXPECT_EQ(mem->used_bytes(), (16384000ull - 4096000ull) * 1024);
}

TEST(MeminfoTest, FallsBackWithoutMemAvailable) {
  const auto mem = ParseMeminfo(
      "MemTotal: 1000 kB\n"
      "MemFree: 100 kB\n"
      "Buffers: 50 kB\n"
      "Cached: 200 kB\n"
      "SReclaimable: 25 kB\n");
  ASSERT_TRUE(mem.has_value());
  EXPECT_EQ(mem->available_bytes, 375u * 1024);
  EXPECT_EQ(mem->used_bytes(), 625u * 1024);
}

TEST(MeminfoTest, RejectsTextWithoutMemTotal) {
  EXPECT_FALSE(ParseMeminfo("").has_value());
  EXPECT_FALSE(ParseMeminfo("MemFree: 10 kB\n").has_value());
}

TEST(ProcFilesTest, ParsesThisMachinesFiles) {
  std::ifstream stat_file("/proc/stat"), mem_file("/proc/meminfo");
  if (!stat_file || !mem_file) GTEST_SKIP() << "no /proc";
  std::stringstream stat_text, mem_text;
  stat_text << stat_file.rdbuf();
  mem_text << mem_file.rdbuf();
  const auto stat = ParseProcStat(stat_text.str());
  ASSERT_TRUE(stat.has_value());
  EXPECT_GE(stat->cores.size(), 1u);
  EXPECT_GT(stat->total.Total(), 0u);
  const auto mem = ParseMeminfo(mem_text.str());
  ASSERT_TRUE(mem.has_value());
  EXPECT_GT(mem->total_bytes, 0u);
  EXPECT_LE(mem->used_bytes(), mem->total_bytes);
}

}  // namespace
}  // namespace impulse::metrics
