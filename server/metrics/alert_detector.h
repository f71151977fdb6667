// High-load alert state machine: raised once a value has stayed above a
// threshold for at least `hold`, cleared once when it drops back to or below
// the clear threshold. Exactly one kRaised and one kCleared per episode; a
// value above the threshold for less than `hold` raises nothing.
#pragma once

#include <chrono>
#include <optional>

namespace impulse::metrics {

enum class AlertTransition { kNone, kRaised, kCleared };

class AlertDetector {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    // Raise when the value is > threshold continuously for >= hold.
    double threshold = 0.9;
    Clock::duration hold = std::chrono::seconds(5);
    // Clear when the value is <= clear_threshold. Unset means `threshold`
    // (no hysteresis); set it lower to ignore dips just below the threshold.
    std::optional<double> clear_threshold;
  };

  explicit AlertDetector(Options options);

  // Feeds the value observed at `now` (times must not go backwards) and
  // returns the transition it caused. NaN counts as below the threshold.
  AlertTransition Update(double value, Clock::time_point now);

  bool active() const { return active_; }
  // When the current run above the threshold began; unset when below.
  std::optional<Clock::time_point> above_since() const { return above_since_; }
  const Options& options() const { return options_; }
  void Reset();

 private:
  Options options_;
  bool active_ = false;
  std::optional<Clock::time_point> above_since_;
};

}  // namespace impulse::metrics
