#include "server/core/metrics_feed.h"

#include <google/protobuf/util/time_util.h>

#include <cmath>
#include <string>

namespace impulse::core {

Result<MetricsFeed::Options> MetricsFeed::FromRequest(
    const v1::WatchMetricsRequest& request) {
  Options options;
  if (request.interval_ms() != 0) {
    if (request.interval_ms() < 50) {
      return Error::InvalidArgument("interval_ms", "must be at least 50");
    }
    options.interval = std::chrono::milliseconds(request.interval_ms());
  }
  if (request.window() != 0) {
    if (request.window() > 10'000) {
      return Error::InvalidArgument("window", "must be at most 10000 samples");
    }
    options.window = request.window();
  }
  if (request.alert_threshold() != 0) {
    if (!std::isfinite(request.alert_threshold()) ||
        request.alert_threshold() < 0 || request.alert_threshold() > 1) {
      return Error::InvalidArgument("alert_threshold",
                                    "must be a load between 0 and 1");
    }
    options.alert_threshold = request.alert_threshold();
  }
  if (request.alert_after_ms() != 0) {
    options.alert_after = std::chrono::milliseconds(request.alert_after_ms());
  }
  return options;
}

MetricsFeed::MetricsFeed(Options options, const JobManager& manager)
    : options_(options),
      manager_(manager),
      sampler_(metrics::SamplerSources{
          .queue_depth =
              [&manager] {
                return static_cast<std::int64_t>(manager.queued());
              },
          .jobs_finished = [&manager] { return manager.finished(); },
      }),
      total_(options.window),
      alert_(metrics::AlertDetector::Options{
          .threshold = options.alert_threshold, .hold = options.alert_after}) {}

v1::MetricsSample MetricsFeed::Next() {
  const metrics::SystemSample sample = sampler_.Sample();
  v1::MetricsSample out;
  out.set_seq(++seq_);
  *out.mutable_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          std::chrono::duration_cast<std::chrono::nanoseconds>(
              sample.time.time_since_epoch())
              .count());
  out.mutable_core_load()->Add(sample.core_load.begin(),
                               sample.core_load.end());
  out.set_total_load(sample.total_load);
  out.set_avg_load(total_.Add(sample.total_load));
  if (cores_.size() != sample.core_load.size()) {
    cores_.assign(sample.core_load.size(),
                  metrics::MovingAverage(options_.window));
  }
  for (std::size_t i = 0; i < cores_.size(); ++i) {
    out.add_avg_core_load(cores_[i].Add(sample.core_load[i]));
  }
  out.set_mem_used_bytes(sample.mem_used_bytes);
  out.set_mem_total_bytes(sample.mem_total_bytes);
  out.set_gpu_utilization(sample.gpu_utilization);
  out.set_queue_depth(sample.queue_depth);
  out.set_running_jobs(static_cast<std::uint32_t>(manager_.running()));
  out.set_jobs_per_second(sample.jobs_per_second);
  const metrics::AlertTransition transition =
      alert_.Update(out.avg_load(), sample.steady_time);
  out.set_alert_active(alert_.active());
  if (transition != metrics::AlertTransition::kNone) {
    v1::AlertEvent* alert = out.mutable_alert();
    const bool raised = transition == metrics::AlertTransition::kRaised;
    alert->set_kind(raised ? v1::AlertEvent::RAISED : v1::AlertEvent::CLEARED);
    alert->set_load(out.avg_load());
    alert->set_threshold(options_.alert_threshold);
    alert->set_message(
        raised ? "average CPU load stayed above the threshold"
               : "average CPU load is back at or below the threshold");
  }
  return out;
}

}  // namespace impulse::core
