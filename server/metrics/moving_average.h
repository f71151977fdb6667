// Mean of the last N values (a sliding window), O(1) per value.
#pragma once

#include <cstddef>
#include <vector>

namespace impulse::metrics {

class MovingAverage {
 public:
  // `window` values are averaged; 0 is treated as 1.
  explicit MovingAverage(std::size_t window);

  // Adds `v` (evicting the oldest value once the window is full) and returns
  // the new average.
  double Add(double v);
  // The average of the values in the window; 0 when empty.
  double Value() const;
  std::size_t size() const { return count_; }
  std::size_t window() const { return values_.size(); }
  bool full() const { return count_ == values_.size(); }
  void Reset();

 private:
  std::vector<double> values_;  // ring buffer
  std::size_t next_ = 0;
  std::size_t count_ = 0;
  // Running sum, recomputed from the ring every window() adds so that
  // floating-point error cannot accumulate.
  double sum_ = 0.0;
  std::size_t adds_since_resum_ = 0;
};

}  // namespace impulse::metrics
