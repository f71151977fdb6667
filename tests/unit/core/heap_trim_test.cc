#include "server/core/heap_trim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

namespace impulse::core {
namespace {

constexpr std::size_t kMiB = 1 << 20;

TEST(ShouldTrimHeap, OnlyWhenMostlyFreeAndStillResident) {
  // After a burst: 140 MiB free and resident, 4 MiB in use.
  EXPECT_TRUE(ShouldTrimHeap({4 * kMiB, 140 * kMiB, 150 * kMiB}, 16 * kMiB));
  // Already trimmed: the free pages are not resident any more.
  EXPECT_FALSE(ShouldTrimHeap({4 * kMiB, 140 * kMiB, 10 * kMiB}, 16 * kMiB));
  // Busy: more in use than free.
  EXPECT_FALSE(ShouldTrimHeap({100 * kMiB, 60 * kMiB, 170 * kMiB}, 16 * kMiB));
  // Too little free to bother.
  EXPECT_FALSE(ShouldTrimHeap({1 * kMiB, 8 * kMiB, 40 * kMiB}, 16 * kMiB));
}

// The case the server meets after a burst: many small blocks freed, with a
// few still in use between them, so glibc cannot shrink the heap from its
// top and the freed pages stay resident until trimmed.
TEST(TrimHeapIfWorthIt, GivesFragmentedFreeMemoryBack) {
#if defined(__SANITIZE_ADDRESS__) || defined(IMPULSE_TSAN)
  GTEST_SKIP() << "the sanitizer's allocator replaces glibc's malloc, whose "
                  "statistics and trimming this test checks";
#endif
  constexpr std::size_t kBlock = 1024;
  constexpr std::size_t kBlocks = 96 * 1024;  // 96 MiB
  std::vector<char*> blocks(kBlocks);
  for (std::size_t i = 0; i < kBlocks; ++i) {
    blocks[i] = static_cast<char*>(std::malloc(kBlock));
    for (std::size_t j = 0; j < kBlock; j += 512) blocks[i][j] = 1;  // touch
  }
  // Keep one block in 128 (a pin every 128 KiB), free the rest.
  std::vector<char*> pins;
  for (std::size_t i = 0; i < kBlocks; ++i) {
    if (i % 128 == 127) {
      pins.push_back(blocks[i]);
    } else {
      std::free(blocks[i]);
    }
  }
  const HeapStats before = ReadHeapStats();
  ASSERT_GE(before.free_bytes, 64 * kMiB);
  const HeapTrim trim = TrimHeapIfWorthIt(16 * kMiB);
  EXPECT_TRUE(trim.trimmed);
  EXPECT_LE(trim.after.resident_anon + 48 * kMiB, trim.before.resident_anon)
      << "resident " << trim.before.resident_anon / kMiB << " -> "
      << trim.after.resident_anon / kMiB << " MiB";
  // Trimmed once; the next check finds nothing worth doing.
  EXPECT_FALSE(TrimHeapIfWorthIt(16 * kMiB).trimmed);
  for (char* pin : pins) std::free(pin);
}

}  // namespace
}  // namespace impulse::core
