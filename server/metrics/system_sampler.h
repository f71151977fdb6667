// Samples the machine and the server: CPU load per core and in total (from
// /proc/stat, between this sample and the previous one), memory (from
// /proc/meminfo), GPU utilisation, queue depth and jobs finished per second
// (from injected callbacks). Every source is injectable so tests run on
// fixed text and fake clocks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "server/metrics/proc_stats.h"

namespace impulse::metrics {

struct SystemSample {
  std::chrono::system_clock::time_point time;         // wall clock, for display
  std::chrono::steady_clock::time_point steady_time;  // for rates and alerts
  std::vector<double> core_load;  // busy fraction 0..1 per core since the
                                  // previous sample
  double total_load = 0.0;        // busy fraction 0..1 of all cores
  std::uint64_t mem_used_bytes = 0;
  std::uint64_t mem_total_bytes = 0;
  double gpu_utilization = -1.0;  // 0..1; -1 when there is no GPU
  std::int64_t queue_depth = 0;
  double jobs_per_second = 0.0;  // jobs finished per second since the
                                 // previous sample
};

// Every member is optional; an unset one takes the default noted.
struct SamplerSources {
  // Text of /proc/stat and /proc/meminfo (default: read the files). Return ""
  // when unavailable; the loads and memory then read 0.
  std::function<std::string()> read_proc_stat;
  std::function<std::string()> read_meminfo;
  // Jobs waiting to run (default 0).
  std::function<std::int64_t()> queue_depth;
  // Monotonic count of finished jobs, for jobs/s (default: jobs/s is 0).
  std::function<std::uint64_t()> jobs_finished;
  // GPU utilisation 0..1, or -1 when there is no GPU (default -1).
  std::function<double()> gpu_utilization;
  // Clocks (default: steady_clock::now / system_clock::now).
  std::function<std::chrono::steady_clock::time_point()> steady_now;
  std::function<std::chrono::system_clock::time_point()> wall_now;
};

// Reads a whole (possibly zero-sized, like /proc files) file; "" on error.
std::string ReadFileToString(const std::string& path);

// Not thread-safe: one caller at a time (Monitor serialises).
class SystemSampler {
 public:
  // Takes a first reading of /proc/stat and the jobs counter, so the first
  // Sample() reports load and jobs/s since construction.
  explicit SystemSampler(SamplerSources sources = {});

  SystemSample Sample();

 private:
  SamplerSources sources_;
  std::optional<ProcStat> prev_stat_;
  std::uint64_t prev_jobs_ = 0;
  std::chrono::steady_clock::time_point prev_time_;
};

}  // namespace impulse::metrics
