// Internal: runs [0, n) items in waves of parallel work so cancel and progress
// are observed between waves. Not part of the public API.
#pragma once

#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "compute/analytics/progress.h"
#include "compute/common/parallel.h"
#include "compute/common/run_control.h"

namespace impulse::analytics::internal {

// Calls body(begin, end) for disjoint subranges covering [0, n), in parallel
// within waves. The first wave has `initial_wave` items; later waves are sized
// so one wave takes about control.chunk_seconds. Between waves the cancel flag
// is checked and progress(done, n) reported. `grain` is the smallest subrange
// handed to one task. Returns false when cancelled (some items not done).
template <typename Body>
bool RunInWaves(std::size_t n, std::size_t initial_wave, std::size_t grain,
                const RunControl& control, const ProgressCallback& progress,
                Body&& body) {
  using Clock = std::chrono::steady_clock;
  const double target =
      control.chunk_seconds > 0 ? control.chunk_seconds : 0.005;
  grain = std::max<std::size_t>(grain, 1);
  std::size_t wave = std::max<std::size_t>(initial_wave, grain);
  std::size_t done = 0;
  while (done < n) {
    if (control.cancelled()) return false;
    const std::size_t end = std::min(n, done + wave);
    const auto t0 = Clock::now();
    if (end - done <= grain) {
      body(done, end);
    } else {
      parallel::ForRanges(done, end, grain, body);
    }
    const double secs =
        std::chrono::duration<double>(Clock::now() - t0).count();
    const std::size_t did = end - done;
    done = end;
    if (progress) progress(done, n);
    // Resize the next wave toward the target time (at most 4x growth per step).
    double scale = secs > 1e-6 ? target / secs : 4.0;
    scale = std::clamp(scale, 0.25, 4.0);
    wave = std::max<std::size_t>(grain, static_cast<std::size_t>(did * scale));
  }
  return true;
}

inline int Concurrency() {
  return std::max(1, tbb::this_task_arena::max_concurrency());
}

}  // namespace impulse::analytics::internal
