#include "server/core/journal.h"

#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace impulse::core {
namespace {

// SQLite's reason, plus the operating system's when there is one ("disk I/O
// error" alone does not say that a file size limit was hit).
std::string Reason(sqlite3* db) {
  std::string reason = sqlite3_errmsg(db);
  if (const int os_error = sqlite3_system_errno(db); os_error != 0) {
    reason += std::string(" (") + std::strerror(os_error) + ")";
  }
  return reason;
}

std::string Bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", value,
                units[unit]);
  return text;
}

// What a failed write may have run into: the free space of the journal's
// file system and the process's file size limit (ulimit -f), when set.
std::string StorageFacts(const std::string& path) {
  std::string facts;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  struct statvfs fs {};
  if (statvfs(dir.c_str(), &fs) == 0) {
    facts += "free space " +
             Bytes(static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize);
  }
  struct rlimit limit {};
  if (getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    facts += std::string(facts.empty() ? "" : ", ") + "file size limit " +
             Bytes(limit.rlim_cur) + " (ulimit -f)";
  }
  return facts;
}

// SQLite's reason for a failed write, with the storage facts behind it.
std::string WriteReason(sqlite3* db, const std::string& path) {
  const int code = sqlite3_errcode(db);
  if (code != SQLITE_IOERR && code != SQLITE_FULL) return Reason(db);
  return Reason(db) + " [" + StorageFacts(path) + "]";
}

Error OpenError(const std::string& path, const std::string& reason) {
  return Error{ErrorCode::kUnavailable,
               "cannot open the journal " + path + ": " + reason, "data_dir"};
}

// The Job blob holds everything but the spec (its own column) and the result.
std::string EncodeJob(const v1::Job& job) {
  v1::Job copy = job;
  copy.clear_spec();
  copy.clear_result();
  return copy.SerializeAsString();
}

}  // namespace

Result<std::unique_ptr<Journal>> Journal::Open(
    const std::string& path, bool full_sync,
    std::chrono::milliseconds flush_delay) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string reason = db != nullptr ? Reason(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return OpenError(path, reason);
  }
  std::unique_ptr<Journal> journal(new Journal(path, db, flush_delay));
  sqlite3_busy_timeout(db, 5000);
  const std::string sync = full_sync ? "FULL" : "NORMAL";
  // Exclusive before WAL: this process keeps the file lock for as long as
  // the journal is open, so a commit takes no fcntl locks and the WAL index
  // lives in heap memory instead of a shared-memory file. It also stops a
  // second impulsed from writing the same journal.
  //
  // A checkpoint (the WAL copied back into the database, with two fsyncs)
  // runs inside the commit that crosses wal_autocheckpoint pages, on a
  // request's thread with the mutex held, so every submit waits for it.
  // SQLite's default of 1,000 pages meant a ~5 ms stall about every 100 ms
  // under load. 10,000 pages (a WAL of up to ~40 MiB) copies each hot page
  // once instead of ten times: tiny-job throughput rose 10-25 % in
  // interleaved runs, while the rarer stalls last longer (p99 submit
  // latency at 64 clients 16 -> 35 ms). A checkpointer thread on a second
  // connection avoided the stalls, but needs shared (not exclusive)
  // locking, which cost more CPU per commit than it saved.
  for (const std::string& sql :
       {std::string("PRAGMA locking_mode=EXCLUSIVE"),
        std::string("PRAGMA journal_mode=WAL"), "PRAGMA synchronous=" + sync,
        std::string("PRAGMA wal_autocheckpoint=10000")}) {
    if (!journal->Exec(sql.c_str()).ok()) {
      return OpenError(path, WriteReason(db, path));
    }
  }
  // Refuse a damaged file rather than serve half of it, and check before
  // writing anything to it.
  sqlite3_stmt* check = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &check, nullptr) !=
          SQLITE_OK ||
      sqlite3_step(check) != SQLITE_ROW) {
    sqlite3_finalize(check);
    return OpenError(path, Reason(db));
  }
  const unsigned char* verdict = sqlite3_column_text(check, 0);
  std::string result =
      verdict != nullptr ? reinterpret_cast<const char*>(verdict) : "";
  // One line in the log: the first problem found.
  if (const std::size_t eol = result.find('\n'); eol != std::string::npos) {
    result = result.substr(0, eol) + " ...";
  }
  sqlite3_finalize(check);
  if (result != "ok") {
    return OpenError(path, "the file is damaged (integrity check: " + result +
                               "); restore it from a backup, or move it away "
                               "to start with an empty journal");
  }
  for (const std::string& sql : {
           std::string("CREATE TABLE IF NOT EXISTS jobs ("
                       " id TEXT PRIMARY KEY,"
                       " ordinal INTEGER NOT NULL,"
                       " spec BLOB NOT NULL,"
                       " job BLOB NOT NULL,"
                       " result BLOB)"),
           std::string("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, "
                       "value INTEGER)"),
           std::string("INSERT INTO meta (key, value) VALUES ('boot', 1)"
                       " ON CONFLICT(key) DO UPDATE SET value = value + 1"),
       }) {
    if (!journal->Exec(sql.c_str()).ok()) {
      return OpenError(path, WriteReason(db, path));
    }
  }
  sqlite3_stmt* boot = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'boot'", -1,
                         &boot, nullptr) != SQLITE_OK ||
      sqlite3_step(boot) != SQLITE_ROW) {
    sqlite3_finalize(boot);
    return journal->SqliteError("cannot read the journal's boot count");
  }
  journal->boot_ = static_cast<std::uint64_t>(sqlite3_column_int64(boot, 0));
  sqlite3_finalize(boot);
  struct {
    sqlite3_stmt** stmt;
    const char* sql;
  } statements[] = {
      {&journal->insert_,
       "INSERT INTO jobs (id, ordinal, spec, job) VALUES (?1, ?2, ?3, ?4)"},
      {&journal->update_, "UPDATE jobs SET job = ?2 WHERE id = ?1"},
      {&journal->update_with_result_,
       "UPDATE jobs SET job = ?2, result = ?3 WHERE id = ?1"},
      {&journal->delete_, "DELETE FROM jobs WHERE id = ?1"},
      {&journal->begin_, "BEGIN"},
      {&journal->commit_, "COMMIT"},
      {&journal->rollback_, "ROLLBACK"},
  };
  for (auto& s : statements) {
    if (sqlite3_prepare_v3(db, s.sql, -1, SQLITE_PREPARE_PERSISTENT, s.stmt,
                           nullptr) != SQLITE_OK) {
      return journal->SqliteError("cannot prepare the journal's statements");
    }
  }
  journal->flusher_ = std::thread([j = journal.get()] { j->FlushLoop(); });
  return journal;
}

Journal::Journal(std::string path, sqlite3* db,
                 std::chrono::milliseconds flush_delay)
    : path_(std::move(path)), flush_delay_(flush_delay), db_(db) {}

Journal::~Journal() {
  {
    std::lock_guard lock(pending_mu_);
    stopping_ = true;
  }
  pending_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  // Inserts and updates still queued are committed before the journal
  // closes.
  CommitInserts();
  for (sqlite3_stmt* stmt : {insert_, update_, update_with_result_, delete_,
                             begin_, commit_, rollback_}) {
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db_);
}

Status Journal::failure() const {
  std::lock_guard lock(failure_mu_);
  if (failure_.has_value()) return *failure_;
  return {};
}

Status Journal::StepUpdateLocked(const PendingUpdate& update) {
  sqlite3_stmt* stmt = update.has_result ? update_with_result_ : update_;
  sqlite3_reset(stmt);
  sqlite3_bind_text(stmt, 1, update.id.data(), update.id.size(), SQLITE_STATIC);
  sqlite3_bind_blob(stmt, 2, update.job.data(), update.job.size(),
                    SQLITE_STATIC);
  if (update.has_result) {
    sqlite3_bind_blob(stmt, 3, update.result.data(), update.result.size(),
                      SQLITE_STATIC);
  }
  const int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  if (rc != SQLITE_DONE) {
    return SqliteError("cannot journal the state of job " + update.id);
  }
  return {};
}

Status Journal::StepInsertLocked(const std::string& id, std::uint64_t ordinal,
                                 const std::string& spec,
                                 const std::string& job) {
  sqlite3_reset(insert_);
  sqlite3_bind_text(insert_, 1, id.data(), id.size(), SQLITE_STATIC);
  sqlite3_bind_int64(insert_, 2, static_cast<sqlite3_int64>(ordinal));
  sqlite3_bind_blob(insert_, 3, spec.data(), spec.size(), SQLITE_STATIC);
  sqlite3_bind_blob(insert_, 4, job.data(), job.size(), SQLITE_STATIC);
  const int rc = sqlite3_step(insert_);
  sqlite3_reset(insert_);
  if (rc != SQLITE_DONE) return SqliteError("cannot journal job " + id);
  return {};
}

Status Journal::CommitLocked(const std::function<Status()>& extra,
                             const std::vector<PendingInsert>& inserts) {
  batch_.clear();
  {
    std::lock_guard lock(pending_mu_);
    batch_.swap(pending_);
    pending_index_.clear();
  }
  if (batch_.empty() && inserts.empty() && !extra) return {};
  // One statement needs no explicit transaction (it is its own).
  const bool transaction = batch_.size() + inserts.size() + (extra ? 1 : 0) > 1;
  auto step = [this](sqlite3_stmt* stmt) {
    sqlite3_reset(stmt);
    const int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE;
  };
  if (transaction && !step(begin_)) {
    return SqliteError("cannot begin a journal transaction");
  }
  Status status;
  for (const PendingInsert& insert : inserts) {
    status =
        StepInsertLocked(insert.id, insert.ordinal, insert.spec, insert.job);
    if (!status.ok()) break;
  }
  for (const PendingUpdate& update : batch_) {
    if (!status.ok()) break;
    status = StepUpdateLocked(update);
  }
  if (status.ok() && extra) status = extra();
  if (transaction) {
    if (status.ok() && !step(commit_)) {
      status = SqliteError("cannot commit a journal transaction");
    }
    if (!status.ok()) step(rollback_);
  }
  if (!status.ok() && !batch_.empty()) {
    // The queued updates were lost with the transaction: remember why, so
    // their callers' next Update reports it.
    std::lock_guard lock(failure_mu_);
    if (!failure_.has_value()) failure_ = status.error();
  }
  batch_.clear();
  return status;
}

void Journal::CommitInserts() {
  std::vector<PendingInsert> inserts;
  {
    std::lock_guard lock(pending_mu_);
    inserts.swap(pending_inserts_);
  }
  Status status;
  {
    std::lock_guard db(mu_);
    status = CommitLocked({}, inserts);
  }
  for (PendingInsert& insert : inserts) insert.done(status);
}

void Journal::Sync() { CommitInserts(); }

void Journal::FlushLoop() {
  std::unique_lock lock(pending_mu_);
  for (;;) {
    pending_cv_.wait(lock, [this] {
      return stopping_ || !pending_.empty() || !pending_inserts_.empty();
    });
    if (stopping_) return;
    if (pending_inserts_.empty()) {
      // Updates only: give an Insert the chance to take them along.
      pending_cv_.wait_for(lock, flush_delay_, [this] {
        return stopping_ || !pending_inserts_.empty();
      });
      if (stopping_) return;
      if (pending_.empty() && pending_inserts_.empty()) continue;
    }
    // Inserts go at once: their submitters wait. Those queued while this
    // commit runs go together in the next one.
    lock.unlock();
    CommitInserts();
    lock.lock();
  }
}

Error Journal::SqliteError(const std::string& what) const {
  return Error{ErrorCode::kUnavailable,
               what + " (" + path_ + "): " + WriteReason(db_, path_), ""};
}

Status Journal::Exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    Error error{ErrorCode::kUnavailable,
                std::string("journal ") + path_ + ": " +
                    (message ? message : "error") +
                    (sqlite3_system_errno(db_) != 0
                         ? std::string(" (") +
                               std::strerror(sqlite3_system_errno(db_)) + ")"
                         : ""),
                ""};
    sqlite3_free(message);
    return error;
  }
  return {};
}

Status Journal::Insert(const v1::Job& job, std::uint64_t ordinal) {
  const std::string spec = job.spec().SerializeAsString();
  const std::string blob = EncodeJob(job);
  std::lock_guard lock(mu_);
  // Committed with whatever updates are queued, in one transaction.
  return CommitLocked(
      [&] { return StepInsertLocked(job.id(), ordinal, spec, blob); });
}

void Journal::InsertAsync(const v1::Job& job, std::uint64_t ordinal,
                          InsertDone done) {
  PendingInsert insert{job.id(), ordinal, job.spec().SerializeAsString(),
                       EncodeJob(job), std::move(done)};
  {
    std::lock_guard lock(pending_mu_);
    pending_inserts_.push_back(std::move(insert));
  }
  pending_cv_.notify_one();
}

Status Journal::Update(const v1::Job& job, const v1::JobResult* result) {
  PendingUpdate update;
  update.id = job.id();
  update.job = EncodeJob(job);
  if (result != nullptr) {
    update.result = result->SerializeAsString();
    update.has_result = true;
  }
  bool first = false;
  {
    std::lock_guard lock(pending_mu_);
    auto [it, inserted] =
        pending_index_.try_emplace(update.id, pending_.size());
    if (inserted) {
      pending_.push_back(std::move(update));
    } else {
      // A newer state of a job already queued replaces it; a queued result
      // stays unless this update brings one (UPDATE without a result leaves
      // the column as it is).
      PendingUpdate& queued = pending_[it->second];
      queued.job = std::move(update.job);
      if (update.has_result) {
        queued.result = std::move(update.result);
        queued.has_result = true;
      }
    }
    first = pending_.size() == 1 && inserted;
  }
  if (first) pending_cv_.notify_one();
  return failure();
}

Status Journal::Delete(const std::string& id) {
  std::unique_lock lock(mu_);
  Status status = CommitLocked([&]() -> Status {
    sqlite3_reset(delete_);
    sqlite3_bind_text(delete_, 1, id.data(), id.size(), SQLITE_STATIC);
    const int rc = sqlite3_step(delete_);
    sqlite3_reset(delete_);
    if (rc != SQLITE_DONE) return SqliteError("cannot delete job " + id);
    return {};
  });
  return status;
}

Status Journal::DeleteMany(const std::vector<std::string>& ids) {
  if (ids.empty()) return {};
  if (ids.size() == 1) return Delete(ids.front());
  std::lock_guard lock(mu_);
  if (Status status = Exec("BEGIN IMMEDIATE"); !status.ok()) return status;
  for (const std::string& id : ids) {
    sqlite3_reset(delete_);
    sqlite3_bind_text(delete_, 1, id.data(), id.size(), SQLITE_STATIC);
    if (sqlite3_step(delete_) != SQLITE_DONE) {
      Error error = SqliteError("cannot delete job " + id);
      sqlite3_reset(delete_);
      (void)Exec("ROLLBACK");
      return error;
    }
  }
  sqlite3_reset(delete_);
  if (Status status = Exec("COMMIT"); !status.ok()) {
    (void)Exec("ROLLBACK");
    return status;
  }
  return {};
}

Result<std::vector<Journal::StoredJob>> Journal::LoadAll() {
  std::lock_guard lock(mu_);
  if (Status status = CommitLocked({}); !status.ok()) return status.error();
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(
          db_, "SELECT ordinal, spec, job, result FROM jobs ORDER BY ordinal",
          -1, &stmt, nullptr) != SQLITE_OK) {
    return SqliteError("cannot read the journal");
  }
  std::vector<StoredJob> jobs;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    StoredJob& stored = jobs.emplace_back();
    stored.ordinal = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0));
    auto blob = [&](int column) {
      return std::string(
          static_cast<const char*>(sqlite3_column_blob(stmt, column)),
          sqlite3_column_bytes(stmt, column));
    };
    const bool parsed = stored.job.ParseFromString(blob(2)) &&
                        stored.job.mutable_spec()->ParseFromString(blob(1));
    if (!parsed) {
      sqlite3_finalize(stmt);
      return Error{ErrorCode::kUnavailable,
                   "the journal " + path_ + " holds an unreadable job record",
                   ""};
    }
    if (sqlite3_column_type(stmt, 3) != SQLITE_NULL) {
      stored.result.emplace();
      if (!stored.result->ParseFromString(blob(3))) {
        sqlite3_finalize(stmt);
        return Error{ErrorCode::kUnavailable,
                     "the journal " + path_ + " holds an unreadable result",
                     ""};
      }
    }
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return SqliteError("cannot read the journal");
  return jobs;
}

}  // namespace impulse::core
