// Sizes the chunks of a long-running kernel so that one chunk takes about
// RunControl::chunk_seconds: the first chunk comes from a cost model, later
// ones from the measured rate of the previous chunk (the machine may be busier
// or faster than the model says). Chunking never changes a kernel's results.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace impulse::cpu::internal {

class ChunkSizer {
 public:
  // `units_per_second` is the cost model's guess; chunks are >= `min_units`.
  ChunkSizer(double target_seconds, double units_per_second,
             std::uint64_t min_units)
      : target_seconds_(target_seconds),
        min_units_(std::max<std::uint64_t>(min_units, 1)) {
    size_ = Clamp(units_per_second * target_seconds_);
  }

  // Size of the next chunk, given how many units are left.
  std::uint64_t Next(std::uint64_t remaining) const {
    return std::min(size_, remaining);
  }

  // Feeds back that `units` took `seconds`. The new size moves at most 4x per
  // chunk, so one noisy measurement (a preempted thread) does little harm.
  void Record(std::uint64_t units, double seconds) {
    if (units == 0 || seconds <= 0.0) return;
    const double wanted =
        static_cast<double>(units) / seconds * target_seconds_;
    const double current = static_cast<double>(size_);
    size_ = Clamp(std::clamp(wanted, current / 4.0, current * 4.0));
  }

 private:
  std::uint64_t Clamp(double units) const {
    // Also guards against NaN and absurd values from a bad chunk_seconds.
    if (!(units >= static_cast<double>(min_units_))) return min_units_;
    if (units >= 1e18) return static_cast<std::uint64_t>(1e18);
    return static_cast<std::uint64_t>(units);
  }

  double target_seconds_;
  std::uint64_t min_units_;
  std::uint64_t size_;
};

// Seconds elapsed since `start` on the steady clock.
inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace impulse::cpu::internal
