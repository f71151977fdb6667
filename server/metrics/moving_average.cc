#include "server/metrics/moving_average.h"

#include <algorithm>

namespace impulse::metrics {

MovingAverage::MovingAverage(std::size_t window)
    : values_(std::max<std::size_t>(window, 1), 0.0) {}

double MovingAverage::Add(double v) {
  if (count_ == values_.size()) {
    sum_ -= values_[next_];
  } else {
    ++count_;
  }
  values_[next_] = v;
  sum_ += v;
  next_ = (next_ + 1) % values_.size();
  if (++adds_since_resum_ >= values_.size()) {
    adds_since_resum_ = 0;
    sum_ = 0.0;
    for (std::size_t i = 0; i < count_; ++i) sum_ += values_[i];
  }
  return Value();
}

double MovingAverage::Value() const {
  return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_);
}

void MovingAverage::Reset() {
  std::fill(values_.begin(), values_.end(), 0.0);
  next_ = 0;
  count_ = 0;
  sum_ = 0.0;
  adds_since_resum_ = 0;
}

}  // namespace impulse::metrics
