// The core job API that both front-ends (gRPC, REST) call: validate and admit,
// look up, list, cancel and run jobs. Transport-free: errors are plain
// impulse::Error values, mapped to gRPC/HTTP codes once at the edge.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "compute/common/status.h"
#include "impulse/v1/jobs.pb.h"
#include "server/core/job_record.h"
#include "server/core/journal.h"
#include "server/core/scheduler.h"
#include "server/jobs/job_kind.h"

namespace impulse::core {

struct JobManagerOptions {
  Scheduler::Options scheduler;
  jobs::Limits limits;
  EventLog::Options event_log;
  bool gpu_available = false;
  std::size_t max_labels = 64;
  std::size_t max_label_bytes = 256;
  std::size_t max_idempotency_key_bytes = 256;
  // SQLite journal file; empty = jobs live in memory only.
  std::string journal_path;
  bool journal_full_sync = false;
};

class JobManager {
 public:
  explicit JobManager(JobManagerOptions options);
  // Cancels running jobs and waits for them to return. With a journal, jobs
  // stopped this way stay journaled as queued, to run again after a restart.
  ~JobManager();

  // Opens the journal (when configured), restores its jobs and queues again
  // those that were queued or running. Call once before serving.
  Status Recover();
  // Accepting new work: not draining, and the journal (if any) is healthy.
  bool ready() const { return !draining_.load() && journal_ok_.load(); }

  // Graceful stop, step 1: refuse new jobs (UNAVAILABLE) and start no queued
  // job; running jobs go on. Queued jobs stay journaled for the next start.
  void BeginDrain();
  // Step 2: waits until no job runs or the deadline passes; true when idle.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);
  // Step 3: tells every watcher of an unfinished job, with a last event, that
  // this server is going away (the job resumes after a restart).
  void AnnounceShutdown();

  // Validates and queues a job. With an idempotency key already seen, returns
  // the original job (same spec) or kAlreadyExists (different spec).
  Result<std::shared_ptr<JobRecord>> Submit(const v1::JobSpec& spec);
  Result<std::shared_ptr<JobRecord>> Find(const std::string& id) const;
  Result<v1::ListJobsResponse> List(const v1::ListJobsRequest& request) const;
  // Cancels a queued or running job; a finished job is returned unchanged.
  Result<std::shared_ptr<JobRecord>> Cancel(const std::string& id);
  // The result of a SUCCEEDED job split into chunks of about `chunk_bytes`.
  Result<std::vector<v1::ResultChunk>> ResultChunks(
      const std::string& id, std::size_t chunk_bytes) const;

  // Wakes every coroutine parked on any job's event log (shutdown).
  void WakeAllWatchers();

  Status ValidateSpec(const v1::JobSpec& spec) const;
  std::size_t queued() const { return scheduler_.queued(); }
  std::size_t running() const { return scheduler_.running(); }
  int cpu_threads() const { return scheduler_.cpu_threads(); }

 private:
  class RunContext;
  void RunJob(const std::shared_ptr<JobRecord>& job);
  v1::Device Place(const v1::JobSpec& spec, const jobs::JobKind& kind) const;
  // Journals the job's current state (and result); a failure marks the
  // manager not ready so it refuses new work.
  void Journal(const JobRecord& job, const v1::JobResult* result = nullptr);
  void Index(const std::shared_ptr<JobRecord>& job);  // under mu_
  std::string NewJobId();

  const JobManagerOptions options_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<JobRecord>> by_id_;
  // Newest first: List pages through this by ordinal.
  std::map<std::uint64_t, std::shared_ptr<JobRecord>, std::greater<>>
      by_ordinal_;
  std::unordered_map<std::string, std::shared_ptr<JobRecord>>
      by_idempotency_key_;
  std::uint64_t next_ordinal_ = 1;
  std::unique_ptr<core::Journal> journal_;
  std::atomic<bool> journal_ok_{true};
  std::atomic<bool> draining_{false};

  // Declared last: destroyed first, so running jobs finish while the maps
  // above are still alive.
  Scheduler scheduler_;
};

}  // namespace impulse::core
