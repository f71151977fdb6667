// The process's standard Prometheus families. Construct one ServerMetrics on
// the process Registry at start-up, then look children up once and cache the
// references on hot paths, e.g.
//   Counter& pi_ok = m.jobs_finished.WithLabels({"pi", "CPU", "SUCCEEDED"});
//   pi_ok.Increment();
#pragma once

#include <vector>

#include "server/metrics/registry.h"

namespace impulse::metrics {

struct ServerMetrics {
  explicit ServerMetrics(Registry& registry);
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // Bucket bounds (seconds) for job durations: 1 ms .. 1 h.
  static std::vector<double> JobDurationBuckets();
  // Bucket bounds (seconds) for request latencies: 0.1 ms .. 10 s.
  static std::vector<double> RequestDurationBuckets();

  Registry& registry;

  // impulse_jobs_submitted_total{kind}
  CounterFamily& jobs_submitted;
  // impulse_jobs_finished_total{kind,device,state}; state is the terminal
  // state (SUCCEEDED, FAILED, CANCELLED).
  CounterFamily& jobs_finished;
  // impulse_job_duration_seconds{kind,device}: start of run to terminal state.
  HistogramFamily& job_duration;
  // impulse_queue_depth: jobs accepted and not yet running.
  Gauge& queue_depth;
  // impulse_jobs_running
  Gauge& jobs_running;
  // impulse_active_watchers: open Watch / SSE / WatchMetrics streams.
  Gauge& active_watchers;
  // impulse_cpu_pool_utilization: busy fraction of the CPU job pool, 0..1.
  Gauge& cpu_pool_utilization;
  // impulse_gpu_streams_busy: CUDA streams currently running a job.
  Gauge& gpu_streams_busy;
  // impulse_grpc_requests_total{method,code}; code as the grpc::StatusCode
  // name, e.g. "OK", "INVALID_ARGUMENT".
  CounterFamily& grpc_requests;
  // impulse_grpc_request_duration_seconds{method}
  HistogramFamily& grpc_request_duration;
  // impulse_http_requests_total{route,status}; route is the route template
  // (e.g. "/v1/jobs/{id}"), never the raw path, to bound cardinality.
  CounterFamily& http_requests;
  // impulse_http_request_duration_seconds{route}
  HistogramFamily& http_request_duration;
};

}  // namespace impulse::metrics
