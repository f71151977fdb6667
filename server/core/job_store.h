// Where the JobManager keeps jobs beyond its own memory. Two implementations
// are chosen at start-up: the embedded SQLite Journal (one process, the
// default) and a ClusterStore (several replicas sharing Redis, see
// cluster_store.h). The JobManager talks to this interface for persistence
// only; what a shared store adds (queue, lookup, leases) is in ClusterStore.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "compute/common/status.h"
#include "impulse/v1/jobs.pb.h"

namespace impulse::core {

// A job as a store has it.
struct StoredJob {
  v1::Job job;  // with spec; without result
  std::uint64_t ordinal = 0;
  std::optional<v1::JobResult> result;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Inserts a new job (state QUEUED) before Submit answers.
  virtual Status Insert(const v1::Job& job, std::uint64_t ordinal) = 0;
  // Insert without blocking the caller: `done` gets its outcome once the job
  // is stored (on a thread of the store's choosing; here: at once).
  using InsertDone = std::function<void(Status)>;
  virtual void InsertAsync(const v1::Job& job, std::uint64_t ordinal,
                           InsertDone done) {
    done(Insert(job, ordinal));
  }
  // Stores every queued write now; `InsertAsync` callbacks have run when it
  // returns.
  virtual void Sync() {}
  // Records the job's current state (and its result when given).
  virtual Status Update(const v1::Job& job, const v1::JobResult* result) = 0;
  virtual Status Delete(const std::string& id) = 0;
  // Deletes the jobs: all of them or, on an error, none.
  virtual Status DeleteMany(const std::vector<std::string>& ids) = 0;
  // The jobs this process restores into memory at start, oldest first.
  virtual Result<std::vector<StoredJob>> LoadAll() = 0;
  // Jobs restored after a restart number their new events from boot << 32,
  // so a sequence number never goes back.
  virtual std::uint64_t boot() const = 0;
  // For logs and errors, e.g. the journal's path or the Redis address.
  virtual const std::string& path() const = 0;
};

}  // namespace impulse::core
