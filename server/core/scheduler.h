// Picks queued jobs by priority, then fair share between tenants (the tenant
// running fewer jobs first, then the one served less since it last went
// idle), then age, and runs them on one of two lanes. Per-tenant quotas cap
// a tenant's queued and running jobs.
// CPU lane: `max_running` runner threads ("cpu-job"), each running one job at
// a time inside a oneTBB task_arena of `cpu_threads`, whose workers
// ("cpu-pool") join the job's parallel loops; each body is isolated so a
// thread waiting inside one job's loop never picks up another job's tasks.
// Whole jobs are not TBB tasks: a job of a few microseconds then never wakes a
// TBB worker, which after each task spins (about a hundred sched_yield calls)
// before it sleeps; under many tiny jobs that spin took a third of the
// server's CPU. GPU lane: one thread per running GPU job (it mostly waits on
// its CUDA stream), at most `max_running_gpu` at once, so GPU jobs never hold
// a CPU thread.
#pragma once

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_scheduler_observer.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

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
    // Per tenant (0 = no limit): queued jobs (more are refused with
    // kResourceExhausted) and running jobs on both lanes (more wait, while
    // other tenants' jobs may start).
    std::size_t max_queued_per_tenant = 0;
    std::size_t max_running_per_tenant = 0;
  };

  Scheduler(Options options, RunFn run);
  // Waits for running jobs to return (cancel them first), then stops the
  // runner threads.
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
  std::size_t queued(const std::string& tenant) const;
  std::size_t running(const std::string& tenant) const;
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
  // One lane's queued jobs: a queue per tenant, so picking the next job
  // costs O(tenants), not O(queued jobs).
  struct Lane {
    std::map<std::string, Queue> by_tenant;
    std::size_t size = 0;
  };
  void Insert(Lane& lane, std::shared_ptr<JobRecord> job);
  // The next job of the lane to start (taken out of it), or null.
  std::shared_ptr<JobRecord> PopLocked(Lane& lane);
  // Starts what the free slots allow: CPU jobs go to `ready_` for a runner,
  // GPU jobs get their thread. Returns how many CPU jobs it made ready.
  std::size_t PumpLocked();
  // A runner thread: takes ready jobs until the scheduler stops.
  void RunCpuJobs();
  // Frees the job's slot and starts what that allows; the number of CPU
  // jobs made ready.
  std::size_t FinishedLocked(bool on_gpu, const std::string& tenant);
  // Forgets a tenant's service count once it has nothing queued or running.
  void ForgetIfIdleLocked(const std::string& tenant);

  const int cpu_threads_;
  const std::size_t max_running_;
  const std::size_t max_queued_;
  const std::size_t max_running_gpu_;
  const std::size_t max_queued_per_tenant_;
  const std::size_t max_running_per_tenant_;
  const RunFn run_;
  // Runners enter the arena, so one slot is reserved for them and at most
  // cpu_threads - 1 workers join a job's loops: a job alone gets cpu_threads
  // threads. max_allowed_parallelism only has to let TBB start that many.
  tbb::global_control parallelism_;
  tbb::task_arena arena_;
  // Names the arena's worker threads "cpu-pool" (they would carry the name
  // of the thread that started them), so top -H and perf tell them apart.
  class NameWorkers : public tbb::task_scheduler_observer {
   public:
    explicit NameWorkers(tbb::task_arena& arena);
    ~NameWorkers() override;
    void on_scheduler_entry(bool is_worker) override;
  };
  NameWorkers name_workers_{arena_};

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::condition_variable ready_cv_;  // a job was made ready, or stopping_
  // CPU jobs taken from the queue and counted as running, not yet picked up
  // by a runner: taking them at Enqueue keeps the order the queue decided.
  std::deque<std::shared_ptr<JobRecord>> ready_;
  Lane queue_;                                            // CPU lane
  Lane gpu_queue_;                                        // GPU lane
  std::map<std::string, std::size_t> running_by_tenant_;  // both lanes
  // Jobs started per tenant since it last had nothing queued or running.
  std::map<std::string, std::uint64_t> served_by_tenant_;
  std::size_t running_ = 0;
  std::size_t running_gpu_ = 0;
  bool paused_ = false;
  bool stopping_ = false;
  std::vector<std::thread> runners_;  // last: started once the above exist
};

}  // namespace impulse::core
