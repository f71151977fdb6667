#include "server/metrics/system_sampler.h"

#include <fstream>
#include <iterator>
#include <utility>

namespace impulse::metrics {

std::string ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

SystemSampler::SystemSampler(SamplerSources sources)
    : sources_(std::move(sources)) {
  if (!sources_.read_proc_stat) {
    sources_.read_proc_stat = [] { return ReadFileToString("/proc/stat"); };
  }
  if (!sources_.read_meminfo) {
    sources_.read_meminfo = [] { return ReadFileToString("/proc/meminfo"); };
  }
  if (!sources_.steady_now) {
    sources_.steady_now = [] { return std::chrono::steady_clock::now(); };
  }
  if (!sources_.wall_now) {
    sources_.wall_now = [] { return std::chrono::system_clock::now(); };
  }
  prev_stat_ = ParseProcStat(sources_.read_proc_stat());
  if (sources_.jobs_finished) prev_jobs_ = sources_.jobs_finished();
  prev_time_ = sources_.steady_now();
}

SystemSample SystemSampler::Sample() {
  SystemSample s;
  s.steady_time = sources_.steady_now();
  s.time = sources_.wall_now();

  std::optional<ProcStat> stat = ParseProcStat(sources_.read_proc_stat());
  if (stat) {
    const ProcStat before = prev_stat_.value_or(ProcStat{});
    s.total_load = BusyFraction(before.total, stat->total);
    s.core_load = PerCoreBusyFractions(before, *stat);
    prev_stat_ = std::move(stat);
  }

  if (std::optional<MemInfo> mem = ParseMeminfo(sources_.read_meminfo())) {
    s.mem_total_bytes = mem->total_bytes;
    s.mem_used_bytes = mem->used_bytes();
  }

  if (sources_.gpu_utilization) s.gpu_utilization = sources_.gpu_utilization();
  if (sources_.queue_depth) s.queue_depth = sources_.queue_depth();

  const double dt =
      std::chrono::duration<double>(s.steady_time - prev_time_).count();
  if (sources_.jobs_finished) {
    const std::uint64_t jobs = sources_.jobs_finished();
    if (dt > 0.0) {
      if (jobs >= prev_jobs_) {
        s.jobs_per_second = static_cast<double>(jobs - prev_jobs_) / dt;
      }
      prev_jobs_ = jobs;
    }
  }
  // With no time elapsed the rate's baseline stays where it was.
  if (dt > 0.0) prev_time_ = s.steady_time;
  return s;
}

}  // namespace impulse::metrics
