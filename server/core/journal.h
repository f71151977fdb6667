// The embedded job journal: SQLite in WAL mode under --data_dir. A job is
// written before Submit answers, every state change after it, and the result
// with the terminal state, so after a crash (kill -9) and a restart queued and
// running jobs are queued again and finished jobs keep their results.
//
// One connection, serialised by a mutex. synchronous=NORMAL: a commit is in
// the WAL before the call returns, so a process crash loses nothing (a power
// failure may lose the last commits; --journal_sync=full closes that gap).
//
// Group commit: Insert and Delete commit before they return. InsertAsync
// queues the job and returns; the flusher thread commits every queued insert
// at once, in one transaction, and then calls each one's `done`: under many
// submits that is one commit for dozens of jobs, and no request thread waits
// on SQLite. Update queues
// the job's row (a newer state of the same job replaces a queued older one)
// and returns; the queue is committed in the same transaction as the next
// Insert or Delete, or by the journal's flusher thread within
// `flush_delay` when nothing else commits first. Under load that is one
// commit per job instead of three. A state change is therefore journaled up
// to a few milliseconds after Update returns; watchers already see a state
// change before it is journaled, and a job whose terminal state was not yet
// journaled when the process died runs again after the restart.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "compute/common/status.h"
#include "impulse/v1/jobs.pb.h"
#include "server/core/job_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace impulse::core {

class Journal final : public JobStore {
 public:
  using StoredJob = core::StoredJob;

  // Opens or creates the journal at `path`. Errors (unwritable directory,
  // corrupt file, not a database) are kUnavailable with SQLite's reason.
  static Result<std::unique_ptr<Journal>> Open(
      const std::string& path, bool full_sync = false,
      std::chrono::milliseconds flush_delay = std::chrono::milliseconds(2));
  ~Journal() override;

  // Inserts a new job (state QUEUED).
  Status Insert(const v1::Job& job, std::uint64_t ordinal) override;
  // Queues the insert for the flusher, which commits it at once together
  // with every other queued insert and update, then calls `done` (on the
  // flusher thread, with no journal lock held).
  void InsertAsync(const v1::Job& job, std::uint64_t ordinal,
                   InsertDone done) override;
  // Commits everything queued and runs the queued inserts' callbacks.
  void Sync() override;
  // Queues the job's current state (and its result when given) for the
  // next commit (see above). Returns the first error a commit of queued
  // updates has met since the journal opened.
  Status Update(const v1::Job& job, const v1::JobResult* result) override;
  Status Delete(const std::string& id) override;
  // Deletes the jobs in one transaction: all of them or, on an error, none.
  Status DeleteMany(const std::vector<std::string>& ids) override;
  // Every job, oldest first.
  Result<std::vector<StoredJob>> LoadAll() override;

  const std::string& path() const override { return path_; }
  // How many times this journal has been opened (1 on a new file). Jobs
  // restored after a restart number their new events from boot << 32, so a
  // sequence number never goes back, whatever a watcher saw before the crash.
  std::uint64_t boot() const override { return boot_; }

 private:
  // A queued Update: the encoded row.
  struct PendingUpdate {
    std::string id;
    std::string job;
    std::string result;
    bool has_result = false;
  };
  // A queued InsertAsync.
  struct PendingInsert {
    std::string id;
    std::uint64_t ordinal = 0;
    std::string spec;
    std::string job;
    InsertDone done;
  };

  Journal(std::string path, sqlite3* db, std::chrono::milliseconds delay);
  Status Exec(const char* sql);
  Error SqliteError(const std::string& what) const;
  // Under mu_: one transaction with `inserts`, every queued update and then
  // `extra` (the caller's own statement, may be empty).
  Status CommitLocked(const std::function<Status()>& extra,
                      const std::vector<PendingInsert>& inserts = {});
  Status StepInsertLocked(const std::string& id, std::uint64_t ordinal,
                          const std::string& spec, const std::string& job);
  Status StepUpdateLocked(const PendingUpdate& update);
  // Commits the queued inserts (and updates), then runs their callbacks.
  void CommitInserts();
  // The flusher thread: commits queued inserts at once, and queued updates
  // `flush_delay_` after the first of them unless an Insert or Delete
  // committed them first.
  void FlushLoop();
  Status failure() const;

  const std::string path_;
  const std::chrono::milliseconds flush_delay_;
  std::mutex pending_mu_;
  std::condition_variable pending_cv_;
  std::vector<PendingUpdate> pending_;  // guarded by pending_mu_
  // Position in pending_ of each queued job id; guarded by pending_mu_.
  std::unordered_map<std::string, std::size_t> pending_index_;
  std::vector<PendingInsert> pending_inserts_;  // guarded by pending_mu_
  bool stopping_ = false;                       // guarded by pending_mu_
  std::vector<PendingUpdate> batch_;            // guarded by mu_
  mutable std::mutex failure_mu_;
  std::optional<Error> failure_;  // guarded by failure_mu_
  std::mutex mu_;
  sqlite3* db_;
  std::uint64_t boot_ = 1;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* update_ = nullptr;
  sqlite3_stmt* update_with_result_ = nullptr;
  sqlite3_stmt* delete_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
  std::thread flusher_;  // last: started once everything above exists
};

}  // namespace impulse::core
