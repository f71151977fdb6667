// The embedded job journal: SQLite in WAL mode under --data_dir. A job is
// written before Submit answers, every state change after it, and the result
// with the terminal state, so after a crash (kill -9) and a restart queued and
// running jobs are queued again and finished jobs keep their results.
//
// One connection, serialised by a mutex. synchronous=NORMAL: a commit is in
// the WAL before the call returns, so a process crash loses nothing (a power
// failure may lose the last commits; --journal_sync=full closes that gap).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "compute/common/status.h"
#include "impulse/v1/jobs.pb.h"

struct sqlite3;
struct sqlite3_stmt;

namespace impulse::core {

class Journal {
 public:
  // A job as the journal has it.
  struct StoredJob {
    v1::Job job;  // with spec; without result
    std::uint64_t ordinal = 0;
    std::optional<v1::JobResult> result;
  };

  // Opens or creates the journal at `path`. Errors (unwritable directory,
  // corrupt file, not a database) are kUnavailable with SQLite's reason.
  static Result<std::unique_ptr<Journal>> Open(const std::string& path,
                                               bool full_sync = false);
  ~Journal();

  // Inserts a new job (state QUEUED).
  Status Insert(const v1::Job& job, std::uint64_t ordinal);
  // Records the job's current state (and its result when given).
  Status Update(const v1::Job& job, const v1::JobResult* result);
  Status Delete(const std::string& id);
  // Deletes the jobs in one transaction: all of them or, on an error, none.
  Status DeleteMany(const std::vector<std::string>& ids);
  // Every job, oldest first.
  Result<std::vector<StoredJob>> LoadAll();

  const std::string& path() const { return path_; }
  // How many times this journal has been opened (1 on a new file). Jobs
  // restored after a restart number their new events from boot << 32, so a
  // sequence number never goes back, whatever a watcher saw before the crash.
  std::uint64_t boot() const { return boot_; }

 private:
  Journal(std::string path, sqlite3* db);
  Status Exec(const char* sql);
  Error SqliteError(const std::string& what) const;

  const std::string path_;
  std::mutex mu_;
  sqlite3* db_;
  std::uint64_t boot_ = 1;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* update_ = nullptr;
  sqlite3_stmt* update_with_result_ = nullptr;
  sqlite3_stmt* delete_ = nullptr;
};

}  // namespace impulse::core
