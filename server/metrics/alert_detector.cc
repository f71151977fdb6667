#include "server/metrics/alert_detector.h"

namespace impulse::metrics {

AlertDetector::AlertDetector(Options options) : options_(options) {}

AlertTransition AlertDetector::Update(double value, Clock::time_point now) {
  const double clear_at = options_.clear_threshold.value_or(options_.threshold);
  if (value > options_.threshold) {
    if (!above_since_) above_since_ = now;
    if (!active_ && now - *above_since_ >= options_.hold) {
      active_ = true;
      return AlertTransition::kRaised;
    }
    return AlertTransition::kNone;
  }
  // At or below the raise threshold (or NaN): the run above it is broken.
  above_since_.reset();
  if (active_ && !(value > clear_at)) {
    active_ = false;
    return AlertTransition::kCleared;
  }
  return AlertTransition::kNone;
}

void AlertDetector::Reset() {
  active_ = false;
  above_since_.reset();
}

}  // namespace impulse::metrics
