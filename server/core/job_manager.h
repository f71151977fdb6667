// The core job API that both front-ends (gRPC, REST) call: validate and admit,
// look up, list, cancel and run jobs. Transport-free: errors are plain
// impulse::Error values, mapped to gRPC/HTTP codes once at the edge.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "compute/common/status.h"
#include "impulse/v1/jobs.pb.h"
#include "server/core/cluster_store.h"
#include "server/core/dataset_store.h"
#include "server/core/deadline_watcher.h"
#include "server/core/job_mirrors.h"
#include "server/core/job_record.h"
#include "server/core/job_store.h"
#include "server/core/journal.h"
#include "server/core/result_cache.h"
#include "server/core/result_chunks.h"
#include "server/core/scheduler.h"
#include "server/jobs/job_kind.h"
#include "server/metrics/server_metrics.h"

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
  // Cluster mode (--cluster_redis): jobs, their events and results, and the
  // queue live in this shared store instead of the journal, so several
  // replicas serve the same jobs (see job_manager_cluster.cc). Null = one
  // process. Retention then expires finished jobs in the store.
  std::shared_ptr<ClusterStore> cluster;
  // Datasets live under <storage_dir>/datasets and large results under
  // <storage_dir>/results; empty = no datasets (analytics jobs refused).
  std::string storage_dir;
  std::uint64_t max_dataset_bytes = std::uint64_t{2} << 30;
  // Result cache budget in encoded result bytes; 0 = no cache.
  std::uint64_t result_cache_bytes = 256 << 20;
  // Retention of finished jobs (SUCCEEDED, FAILED, CANCELLED). SweepExpired
  // removes a job, with its events, result files and journal row, once it
  // ended more than `retention` ago (0 = no age limit), and the oldest
  // finished ones while more than `retention_max_jobs` are kept (0 = no
  // limit). Queued and running jobs never expire.
  std::chrono::milliseconds retention{0};
  std::size_t retention_max_jobs = 0;
  // Where job counters and durations go; null = not counted.
  metrics::ServerMetrics* metrics = nullptr;
};

class JobManager {
 public:
  explicit JobManager(JobManagerOptions options);
  // Cancels running jobs and waits for them to return. With a journal, jobs
  // stopped this way stay journaled as queued, to run again after a restart.
  ~JobManager();

  // Opens the journal (when configured), restores its jobs and queues again
  // those that were queued or running, removes restored jobs past retention
  // and result files no job refers to. Call once before serving.
  Status Recover();
  // Accepting new work: not draining, and the journal (if any) or the
  // cluster store is healthy.
  bool ready() const {
    return !draining_.load() && journal_ok_.load() &&
           (cluster_ == nullptr || cluster_->healthy());
  }

  // Graceful stop, step 1: refuse new jobs (UNAVAILABLE) and start no queued
  // job; running jobs go on. Queued jobs stay journaled for the next start.
  void BeginDrain();
  // Step 2: waits until no job runs or the deadline passes; true when idle.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);
  // Step 3: tells every watcher of an unfinished job, with a last event, that
  // this server is going away (the job resumes after a restart).
  void AnnounceShutdown();

  // Every call below acts for one `tenant` (from the caller's token; "" on
  // a server without tokens). Jobs, datasets, indexes, idempotency keys and
  // cached results of other tenants do not exist for it: they answer
  // kNotFound exactly like missing ones, so nothing leaks.

  // Validates and queues a job. With an idempotency key already seen, returns
  // the original job (same spec) or kAlreadyExists (different spec).
  Result<std::shared_ptr<JobRecord>> Submit(const v1::JobSpec& spec,
                                            const std::string& tenant = "");
  // Submit without blocking the caller on the journal: `done` gets the same
  // answer, once the job is journaled. Jobs without an idempotency key or a
  // dataset (one process) are committed by the journal's own thread together
  // with the other submits in flight, and `done` runs there; the others go
  // through Submit and `done` runs before this returns. No lock of the
  // JobManager is held while `done` runs.
  using SubmitDone = std::function<void(Result<std::shared_ptr<JobRecord>>)>;
  void SubmitAsync(const v1::JobSpec& spec, const std::string& tenant,
                   SubmitDone done);
  Result<std::shared_ptr<JobRecord>> Find(const std::string& id,
                                          const std::string& tenant = "") const;
  Result<v1::ListJobsResponse> List(const v1::ListJobsRequest& request,
                                    const std::string& tenant = "") const;
  // Cancels a queued or running job; a finished job is returned unchanged.
  Result<std::shared_ptr<JobRecord>> Cancel(const std::string& id,
                                            const std::string& tenant = "");
  // Removes a finished job at once: from memory (its events go with it),
  // the result cache, the journal and the result directory. Answers the job
  // as it was, without its result. kFailedPrecondition while it is queued or
  // running; kNotFound for an unknown id (or another tenant's job);
  // kUnavailable when the journal cannot delete it (then nothing changed).
  Result<v1::Job> Delete(const std::string& id, const std::string& tenant = "");
  // Removes up to `max_jobs` finished jobs past retention (all tenants),
  // oldest end first, like Delete; returns how many. Cheap when nothing is
  // due. A caller that gets `max_jobs` back should call again (after letting
  // others run).
  std::size_t SweepExpired(std::size_t max_jobs);
  bool retention_enabled() const {
    return cluster_ == nullptr &&
           (options_.retention.count() > 0 || options_.retention_max_jobs > 0);
  }
  // Finished jobs kept (the population retention works on).
  std::size_t finished_kept() const;
  // The result of a SUCCEEDED job split into chunks of about `chunk_bytes`.
  Result<std::vector<v1::ResultChunk>> ResultChunks(
      const std::string& id, std::size_t chunk_bytes,
      const std::string& tenant = "") const;
  // The same chunks one at a time (large results are never copied whole).
  // With `held_by` (cluster mode): when another replica keeps the result's
  // file and it is not here, nothing is streamed: *held_by names that
  // replica (HOST:PORT) and the stream is null.
  Result<std::unique_ptr<ResultChunkStream>> StreamResult(
      const std::string& id, std::size_t chunk_bytes,
      const std::string& tenant = "", std::string* held_by = nullptr) const;
  // Cluster mode: the gRPC address (HOST:PORT) other replicas reach this one
  // at; stamped on the results whose rows it keeps in a file (set once the
  // server listens).
  void SetAdvertiseAddress(std::string address);

  // Datasets (job_manager_datasets.cc), one store per tenant. Upload and
  // list go to the store; deleting checks first that no queued or running
  // job uses the dataset (kFailedPrecondition naming the job).
  DatasetStore& datasets(const std::string& tenant = "") const {
    return StoreFor(tenant);
  }
  Result<v1::Dataset> DeleteDataset(const std::string& name,
                                    const std::string& tenant = "");
  // job_manager_indexes.cc: what both front ends answer for ListDatasets,
  // Query and Complete (defaults, page limits, errors naming the field).
  Result<v1::ListDatasetsResponse> ListDatasets(
      const std::string& tenant = "") const;
  Result<v1::QueryResponse> Query(const v1::QueryRequest& request,
                                  const std::string& tenant = "") const;
  Result<v1::CompleteResponse> Complete(const v1::CompleteRequest& request,
                                        const std::string& tenant = "") const;
  // In-memory named indexes built by `index` jobs, per tenant.
  jobs::IndexRegistry& indexes(const std::string& tenant = "") const {
    return IndexesFor(tenant);
  }
  ResultCache& result_cache() { return cache_; }

  // Wakes every coroutine parked on any job's event log (shutdown).
  void WakeAllWatchers();

  Status ValidateSpec(const v1::JobSpec& spec,
                      const std::string& tenant = "") const;
  std::size_t queued() const { return scheduler_.queued(); }
  std::size_t running() const { return scheduler_.running(); }
  std::size_t running_gpu() const { return scheduler_.running_gpu(); }
  // Busy fraction of the CPU job slots, 0..1.
  double cpu_utilization() const;
  // Jobs that reached a terminal state since start (for jobs/s).
  std::uint64_t finished() const { return finished_.load(); }
  int cpu_threads() const { return scheduler_.cpu_threads(); }
  // Cluster mode (a ClusterStore), not one process.
  bool clustered() const { return cluster_ != nullptr; }

 private:
  class RunContext;
  void RunJob(const std::shared_ptr<JobRecord>& job);
  v1::Device Place(const v1::JobSpec& spec, const jobs::JobKind& kind) const;
  // Journals the job's current state (and result); a failure marks the
  // manager not ready so it refuses new work.
  void Journal(const JobRecord& job, const v1::JobResult* result = nullptr);
  // Marks the journal failed (logged once, loudly): no new work from now on.
  void JournalFailed(const Error& error);
  // Why Submit refuses new work right now (draining, journal failed); under
  // mu_.
  Status AcceptingLocked() const;
  // Marks the journal failed; the error a submit whose job it could not
  // store answers.
  Error NotJournaled(const Error& error);
  // Under mu_: Submit's answer when no new job has to run (an idempotent
  // retry or its conflict, a refusal, a missing dataset, a cached result);
  // nullopt when one does.
  std::optional<Result<std::shared_ptr<JobRecord>>> AnswerWithoutRunLocked(
      const v1::JobSpec& spec, const std::string& tenant);
  // A new QUEUED job, not yet journaled or indexed (under mu_).
  std::shared_ptr<JobRecord> NewJobLocked(const v1::JobSpec& spec,
                                          const std::string& tenant);
  // NewJobLocked, journaled before it returns (under mu_).
  Result<std::shared_ptr<JobRecord>> NewJournaledJobLocked(
      const v1::JobSpec& spec, const std::string& tenant);
  // A journaled QUEUED job goes to the scheduler and the indexes (under
  // mu_); a refusal (queue full) deletes its row again.
  Result<std::shared_ptr<JobRecord>> QueueLocked(
      std::shared_ptr<JobRecord> job);
  void Index(const std::shared_ptr<JobRecord>& job);  // under mu_
  // Runs `mark` (a terminal transition) under mu_ and, when it made the job
  // terminal, RecordFinishedLocked; true in that case.
  template <typename Mark>
  bool Finish(const JobRecord& job, Mark mark);
  // Under mu_, right after the job's terminal transition (made under mu_ as
  // well, so Delete and the sweep never see a finished job half recorded):
  // orders it for retention and counts its result file.
  void RecordFinishedLocked(const JobRecord& job, std::int64_t end_micros);
  // Under mu_: takes a finished job out of every index and the result cache.
  // Returns the result file to remove when this job was its last user.
  std::string UnindexLocked(const JobRecord& job);
  void RemoveResultFile(const std::string& key) const;
  // Removes files of results/ that no restored job refers to (left by a
  // crash mid-write or mid-delete). Before serving only.
  void RemoveOrphanResultFiles();
  // Counts a job that reached a terminal state.
  void CountFinished(const JobRecord& job, double run_seconds);
  std::string NewJobId();
  // Datasets (job_manager_datasets.cc): existence and metadata checks for
  // Validate; the digests of a spec's datasets; the cache key of a spec
  // (nullopt: not cacheable); a job answered from the cache (under mu_).
  Status ValidateDatasets(const v1::JobSpec& spec, const jobs::JobKind& kind,
                          const std::string& tenant) const;
  Result<std::vector<std::string>> DatasetDigests(
      const v1::JobSpec& spec, const jobs::JobKind& kind,
      const std::string& tenant) const;
  std::optional<std::string> CacheKey(const v1::JobSpec& spec,
                                      const jobs::JobKind& kind,
                                      const std::string& tenant) const;
  Result<std::shared_ptr<JobRecord>> SubmitCachedLocked(
      const v1::JobSpec& spec, const ResultCache::Entry& hit,
      const std::string& tenant);
  // The tenant's dataset store and index registry, made on first use
  // (job_manager_datasets.cc); they live as long as the manager.
  DatasetStore& StoreFor(const std::string& tenant) const;
  jobs::IndexRegistry& IndexesFor(const std::string& tenant) const;
  // Stores a finished job's result and returns its encoded size.
  void RememberResult(const JobRecord& job,
                      std::shared_ptr<const v1::JobResult> result);
  std::string result_dir() const;
  // The other replica that keeps the result's file when it is not here;
  // "" when this replica serves the result (or says why not) itself.
  std::string RemoteHolder(const v1::JobResult& result) const;

  // Cluster mode (job_manager_cluster.cc): the same calls answered from the
  // shared store, and the threads that take work from its queue and keep
  // the leases of the jobs this replica runs.
  void StartCluster();
  void StopCluster();
  Result<std::shared_ptr<JobRecord>> SubmitShared(const v1::JobSpec& spec,
                                                  const std::string& tenant);
  Result<std::shared_ptr<JobRecord>> FindShared(
      const std::string& id, const std::string& tenant) const;
  Result<v1::ListJobsResponse> ListShared(const v1::ListJobsRequest& request,
                                          std::size_t page_size,
                                          std::uint64_t before,
                                          const std::string& tenant) const;
  Result<std::shared_ptr<JobRecord>> CancelShared(const std::string& id,
                                                  const std::string& tenant);
  Result<v1::Job> DeleteShared(const std::string& id,
                               const std::string& tenant);
  void ClaimLoop();
  void HeartbeatLoop();
  void AdoptClaimed(ClaimedJob claimed);

  const JobManagerOptions options_;
  ClusterStore* const cluster_;  // options_.cluster; null = one process

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<JobRecord>> by_id_;
  // Newest first: List pages through this by ordinal.
  std::map<std::uint64_t, std::shared_ptr<JobRecord>, std::greater<>>
      by_ordinal_;
  std::unordered_map<std::string, std::shared_ptr<JobRecord>>
      by_idempotency_key_;
  // Finished jobs in retention order: (end time in microseconds since the
  // epoch, ordinal), oldest first; and each one's end time by ordinal.
  std::set<std::pair<std::int64_t, std::uint64_t>> finished_order_;
  std::unordered_map<std::uint64_t, std::int64_t> finished_end_;
  // Jobs alive per result file (storage key): cached jobs share the file of
  // the job that computed it, which is removed with the last of them.
  std::unordered_map<std::string, std::size_t> result_file_refs_;
  std::uint64_t next_ordinal_ = 1;
  // The SQLite journal or, in cluster mode, the cluster store.
  std::shared_ptr<JobStore> journal_;
  std::atomic<bool> journal_ok_{true};
  std::atomic<bool> draining_{false};
  std::unique_ptr<DatasetStore> datasets_;  // the "" tenant's
  mutable jobs::IndexRegistry indexes_;     // the "" tenant's
  mutable std::mutex advertise_mu_;
  std::string advertise_;          // guarded by advertise_mu_
  mutable std::mutex tenants_mu_;  // guards the two maps below
  mutable std::map<std::string, std::unique_ptr<DatasetStore>> tenant_stores_;
  mutable std::map<std::string, std::unique_ptr<jobs::IndexRegistry>>
      tenant_indexes_;
  ResultCache cache_;
  std::atomic<std::uint64_t> finished_{0};
  // Per-job timeouts; outlives the scheduler, whose jobs remove theirs.
  DeadlineWatcher deadlines_;
  // Cluster mode: copies of the store's jobs for the front-ends, and the
  // claim and heartbeat threads (stopped before the scheduler goes).
  std::unique_ptr<JobMirrors> mirrors_;
  std::mutex cluster_mu_;
  std::condition_variable cluster_cv_;
  bool cluster_stop_ = false;  // guarded by cluster_mu_
  std::thread claimer_;
  std::thread heartbeat_;

  // Declared last: destroyed first, so running jobs finish while the maps
  // above are still alive.
  Scheduler scheduler_;
};

}  // namespace impulse::core
