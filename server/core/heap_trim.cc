#include "server/core/heap_trim.h"

#include <malloc.h>
#include <unistd.h>

#include <fstream>

namespace impulse::core {

HeapStats ReadHeapStats() {
  const struct mallinfo2 info = mallinfo2();
  HeapStats stats;
  stats.in_use_bytes = info.uordblks + info.hblkhd;  // + mmapped chunks
  stats.free_bytes = info.fordblks;
  // statm: size resident shared ... in pages; resident - shared is the
  // anonymous part (heap, stacks).
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0, shared = 0;
  if (statm >> size >> resident >> shared && resident >= shared) {
    stats.resident_anon =
        (resident - shared) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  }
  return stats;
}

bool ShouldTrimHeap(const HeapStats& stats, std::size_t min_free_bytes) {
  return stats.free_bytes >= min_free_bytes &&
         stats.free_bytes > stats.in_use_bytes &&
         stats.resident_anon >= stats.in_use_bytes + min_free_bytes;
}

HeapTrim TrimHeapIfWorthIt(std::size_t min_free_bytes) {
  HeapTrim trim;
  trim.before = ReadHeapStats();
  if (!ShouldTrimHeap(trim.before, min_free_bytes)) {
    trim.after = trim.before;
    return trim;
  }
  const auto start = std::chrono::steady_clock::now();
  malloc_trim(0);
  trim.took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  trim.trimmed = true;
  trim.after = ReadHeapStats();
  return trim;
}

}  // namespace impulse::core
