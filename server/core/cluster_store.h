// A job store shared by several impulsed replicas (cluster mode): besides
// keeping jobs it is the queue they take work from, the place any replica
// looks up a job, its events and its result, and the lease that says which
// replica runs a job. The Redis implementation is server/cluster/; the
// JobManager only knows this interface.
//
// Ownership: a replica that claims a job holds a lease on it, renewed by
// Heartbeat. Only the lease holder may publish the job's events or change
// its state, so a replica that lost its lease (it stalled, or was cut off
// and another took over) can no longer write, and each job reaches exactly
// one terminal state in the store.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/core/job_record.h"
#include "server/core/job_store.h"

namespace impulse::core {

// A job this replica claimed from the queue; it holds the lease.
struct ClaimedJob {
  StoredJob stored;
  // Claims of this job by any replica so far: 1 on its first run, more
  // after takeovers.
  std::uint64_t claims = 1;
  // The newest event the store has for it.
  std::uint64_t last_seq = 0;
  // A cancel was requested while nobody ran it.
  bool cancel_requested = false;
};

// Admission limits of InsertQueued (0 = no limit).
struct InsertLimits {
  // Unfinished (queued or running) jobs in the whole cluster: --max_queued.
  std::size_t max_unfinished = 0;
  // Queued jobs of the job's tenant in the whole cluster:
  // --tenant_max_queued.
  std::size_t max_queued_per_tenant = 0;
};

class ClusterStore : public JobStore {
 public:
  // The store answered its last call (readiness). While false, new work is
  // refused with kUnavailable; it turns true again by itself once the store
  // is back.
  virtual bool healthy() const = 0;
  // A cluster-wide ordinal for a new job (List order).
  virtual Result<std::uint64_t> NextOrdinal() = 0;
  // Writes a queued job with its first event and puts it on the queue,
  // unless its spec's idempotency key already names a job of its tenant:
  // then nothing is written. Returns the id of the job that has the key;
  // kResourceExhausted when a limit is reached.
  virtual Result<std::string> InsertQueued(const v1::Job& job,
                                           std::uint64_t ordinal,
                                           const v1::JobEvent& queued,
                                           const InsertLimits& limits) = 0;
  // Any replica's job; nullopt when there is none.
  virtual Result<std::optional<StoredJob>> Load(const std::string& id) = 0;
  // The job's stored events with seq > after_seq, oldest first.
  virtual Result<std::vector<v1::JobEvent>> ReadEvents(const std::string& id,
                                                       std::uint64_t after_seq,
                                                       std::size_t max) = 0;
  // New events of any of the (job id, after_seq) pairs; waits up to `wait`
  // for one. Only one thread may call it.
  virtual Result<std::vector<v1::JobEvent>> WaitEvents(
      const std::vector<std::pair<std::string, std::uint64_t>>& after,
      std::chrono::milliseconds wait) = 0;
  // Up to `max` jobs for this replica to run, each with its lease: first
  // those whose owner's lease expired (the owner died), then new ones from
  // the queue, waiting up to `wait` for one. Only one thread may call it.
  virtual Result<std::vector<ClaimedJob>> Claim(
      std::size_t max, std::chrono::milliseconds wait) = 0;
  // The record that runs a claimed job. Update (JobStore) publishes its new
  // events and state; the terminal Update ends the ownership.
  virtual void Adopt(std::shared_ptr<JobRecord> job, std::uint64_t claims) = 0;
  // Called often (every ~50 ms): publishes new events of owned jobs, renews
  // their leases, delivers cancels requested on other replicas (cancel flag
  // and cancel_requested), and stops jobs whose lease was lost (cancel flag
  // only: they end without a terminal state; another replica re-runs them).
  // While the store is down it tries to reconnect (with backoff).
  virtual void Heartbeat() = 0;
  // Stops every owned job here (cancel flag only: no terminal state) and
  // gives up its lease (graceful stop), so another replica takes it over
  // without waiting for the lease to expire.
  virtual void ReleaseAll() = 0;
  // Cancels a job wherever it is: a queued job nobody has claimed ends
  // CANCELLED at once; otherwise the job's owner sees the request at its
  // next heartbeat.
  virtual Status RequestCancel(const std::string& id) = 0;
  // Up to `max` (ordinal, id) of a tenant's jobs with ordinal < `before`,
  // newest first.
  virtual Result<std::vector<std::pair<std::uint64_t, std::string>>> ListIds(
      const std::string& tenant, std::uint64_t before, std::size_t max) = 0;
  // Finished jobs are removed this long after they end (0 = kept).
  virtual void SetRetention(std::chrono::milliseconds retention) = 0;
};

}  // namespace impulse::core
