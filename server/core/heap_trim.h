// Gives freed heap memory back to the system after a burst.
//
// glibc keeps memory that was freed in its arenas: a burst of jobs and
// thousands of streams spread allocations over the per-thread arenas, and
// once they are freed (streams closed, finished jobs removed by retention or
// Delete) almost nothing is in use any more, yet the pages stay resident
// because only the top of each heap is returned automatically. Measured with
// bench/load_burst.sh (5,000 watchers, 20,000 jobs): 160 MiB RSS with 3.7 MiB
// in use; malloc_trim(0) brings it back to 30 MiB. The server checks the
// heap now and then (mallinfo2) and trims only when much of it is free and
// resident; after a trim the freed pages are no longer resident, so an idle
// server does not trim again until its heap has been used again.
#pragma once

#include <chrono>
#include <cstddef>

namespace impulse::core {

struct HeapStats {
  std::size_t in_use_bytes = 0;   // allocated by malloc and not freed
  std::size_t free_bytes = 0;     // held by the arenas, not in use
  std::size_t resident_anon = 0;  // anonymous resident memory (statm)
};

// Now (mallinfo2, which locks each arena briefly, and /proc/self/statm).
HeapStats ReadHeapStats();

// Worth a malloc_trim: at least `min_free_bytes` free, more free than in
// use (a busy heap that merely cycles memory is left alone), and resident
// anonymous memory at least `min_free_bytes` above what is in use (free
// pages still resident: not already trimmed).
bool ShouldTrimHeap(const HeapStats& stats, std::size_t min_free_bytes);

struct HeapTrim {
  bool trimmed = false;
  HeapStats before, after;
  std::chrono::microseconds took{0};
};

// Reads the heap and, when ShouldTrimHeap, returns free pages to the system
// (malloc_trim(0)).
HeapTrim TrimHeapIfWorthIt(std::size_t min_free_bytes);

}  // namespace impulse::core
