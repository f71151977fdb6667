// One watcher's view of the live system monitor (WatchMetrics, the SSE
// metrics stream): samples the machine and the job manager when asked, keeps
// the watcher's own moving average and high-load alert, and answers in the
// impulse.v1.MetricsSample shape. Each stream owns one, so clients choose
// their own interval, window and threshold.
#pragma once

#include <chrono>
#include <vector>

#include "compute/common/status.h"
#include "impulse/v1/metrics.pb.h"
#include "server/core/job_manager.h"
#include "server/metrics/alert_detector.h"
#include "server/metrics/moving_average.h"
#include "server/metrics/system_sampler.h"

namespace impulse::core {

class MetricsFeed {
 public:
  struct Options {
    std::chrono::milliseconds interval{100};
    std::size_t window = 10;
    double alert_threshold = 0.9;
    std::chrono::milliseconds alert_after{5000};
  };

  // Defaults for unset fields; errors name the field.
  static Result<Options> FromRequest(const v1::WatchMetricsRequest& request);

  MetricsFeed(Options options, const JobManager& manager);

  // Takes a sample now (call every `interval`).
  v1::MetricsSample Next();
  std::chrono::milliseconds interval() const { return options_.interval; }

 private:
  const Options options_;
  const JobManager& manager_;
  metrics::SystemSampler sampler_;
  metrics::MovingAverage total_;
  std::vector<metrics::MovingAverage> cores_;
  metrics::AlertDetector alert_;
  std::uint64_t seq_ = 0;
};

}  // namespace impulse::core
