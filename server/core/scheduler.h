// Picks queued jobs by priority, then age, and runs them on one of two lanes.
// CPU lane: a oneTBB task_arena with at most `max_running` jobs at once; jobs
// use nested TBB parallelism, each body isolated so a thread waiting inside one
// job's parallel loop never picks up another whole job. GPU lane: one thread
// per running GPU job (it mostly waits on its CUDA stream), at most
// `max_running_gpu` at once, so GPU jobs never hold a CPU-pool thread.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>

#include "compute/common/status.h"
#include "server/core/job_record.h"

namespace impulse::core {

class Scheduler {
 public:
  using RunFn = std::function<void(const std::shared_ptr<JobRecord>&)>;

  struct Options {
    int cpu_threads = 0;          // 0 = all cores
    std::size_t max_running = 0;  // 0 = cpu_threads
    std::size_t max_queued = 10'000;
    std::size_t max_running_gpu = 0;  // 0 = no GPU lane
  };

  Scheduler(Options options, RunFn run);
  // Waits for running jobs to return; cancel them first.
  ~Scheduler();

  // Queues the job for the CPU or GPU lane; kResourceExhausted when the
  // queue is full.
  Status Enqueue(std::shared_ptr<JobRecord> job, bool on_gpu = false);
  // Re-queues without the admission limit (recovery after a restart).
  void EnqueueUnbounded(std::shared_ptr<JobRecord> job, bool on_gpu = false);
  // Takes a queued job out of the queue; false when it is not queued.
  bool Remove(const JobRecord& job);
  // Stops starting new jobs (drain); queued ones stay queued.
  void Pause();
  // Blocks until no job is running or the deadline passes; true when idle.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);

  std::size_t queued() const;
  std::size_t running() const;
  std::size_t running_gpu() const;
  std::size_t max_running() const { return max_running_; }
  int cpu_threads() const { return cpu_threads_; }

 private:
  struct Order {
    bool operator()(const std::shared_ptr<JobRecord>& a,
                    const std::shared_ptr<JobRecord>& b) const;
  };
  using Queue = std::set<std::shared_ptr<JobRecord>, Order>;
  void PumpLocked();
  void OnFinished(bool on_gpu);

  const int cpu_threads_;
  const std::size_t max_running_;
  const std::size_t max_queued_;
  const std::size_t max_running_gpu_;
  const RunFn run_;
  tbb::task_arena arena_;

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  Queue queue_;      // CPU lane
  Queue gpu_queue_;  // GPU lane
  std::size_t running_ = 0;
  std::size_t running_gpu_ = 0;
  bool paused_ = false;
};

}  // namespace impulse::core
