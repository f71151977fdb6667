#include "server/metrics/server_metrics.h"

namespace impulse::metrics {

std::vector<double> ServerMetrics::JobDurationBuckets() {
  return {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
          2.5,   5,     10,   30,    60,   120, 300,  900, 3600};
}

std::vector<double> ServerMetrics::RequestDurationBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

ServerMetrics::ServerMetrics(Registry& r)
    : registry(r),
      jobs_submitted(r.AddCounter("impulse_jobs_submitted_total",
                                  "Jobs accepted by Submit, by kind.",
                                  {"kind"})),
      jobs_finished(r.AddCounter(
          "impulse_jobs_finished_total",
          "Jobs that reached a terminal state, by kind, device and state.",
          {"kind", "device", "state"})),
      job_duration(r.AddHistogram(
          "impulse_job_duration_seconds",
          "Run time of finished jobs in seconds, by kind and device.",
          {"kind", "device"}, JobDurationBuckets())),
      queue_depth(
          r.AddGauge("impulse_queue_depth", "Jobs accepted and waiting to run.")
              .Get()),
      jobs_running(
          r.AddGauge("impulse_jobs_running", "Jobs currently running.").Get()),
      active_watchers(
          r.AddGauge("impulse_active_watchers",
                     "Open job Watch, SSE and WatchMetrics streams.")
              .Get()),
      cpu_pool_utilization(
          r.AddGauge("impulse_cpu_pool_utilization",
                     "Busy fraction of the CPU job pool (0..1).")
              .Get()),
      gpu_streams_busy(r.AddGauge("impulse_gpu_streams_busy",
                                  "CUDA streams currently running a job.")
                           .Get()),
      grpc_requests(r.AddCounter("impulse_grpc_requests_total",
                                 "gRPC calls completed, by method and code.",
                                 {"method", "code"})),
      grpc_request_duration(
          r.AddHistogram("impulse_grpc_request_duration_seconds",
                         "gRPC call latency in seconds, by method.", {"method"},
                         RequestDurationBuckets())),
      http_requests(
          r.AddCounter("impulse_http_requests_total",
                       "HTTP requests completed, by route and status.",
                       {"route", "status"})),
      http_request_duration(
          r.AddHistogram("impulse_http_request_duration_seconds",
                         "HTTP request latency in seconds, by route.",
                         {"route"}, RequestDurationBuckets())) {}

}  // namespace impulse::metrics
