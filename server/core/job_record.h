// The server's record of one job: its immutable spec, its mutable state (under
// a mutex), its cancel flag and its event log.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "impulse/v1/jobs.pb.h"
#include "server/core/event_log.h"

namespace impulse::core {

class JobRecord {
 public:
  // `tenant`: whose job it is ("" on a server without auth tokens).
  JobRecord(std::string id, std::uint64_t ordinal, v1::JobSpec spec,
            EventLog::Options log_options, std::uint64_t first_seq = 1,
            std::string tenant = "");

  const std::string& id() const { return id_; }
  const std::string& tenant() const { return tenant_; }
  // Submission order; the scheduler's tie-breaker and the List page cursor.
  std::uint64_t ordinal() const { return ordinal_; }
  const v1::JobSpec& spec() const { return spec_; }
  EventLog& events() { return events_; }

  std::atomic<bool>& cancel_flag() { return cancel_; }
  // Set when a client asked for the cancel (not the server shutting down).
  std::atomic<bool>& cancel_requested() { return cancel_requested_; }

  v1::JobState state() const;
  // The public view; `with_result` adds the result when it is small enough.
  v1::Job ToProto(bool with_result) const;
  std::shared_ptr<const v1::JobResult> result() const;

  // Transitions; each returns false when the job was already terminal, so
  // every job reaches exactly one terminal state.
  bool MarkQueued(const std::string& message = "");
  // Restores the state a journal kept. A finished job gets its terminal event
  // again (same sequence number) so a watcher resuming after a restart ends.
  void Restore(const v1::Job& stored,
               std::shared_ptr<const v1::JobResult> result);
  // Replaces the state with another replica's view of the job (cluster
  // mode), leaving the event log alone: its events come separately.
  void Refresh(const v1::Job& stored,
               std::shared_ptr<const v1::JobResult> result);
  bool MarkRunning(v1::Device placed_on);
  bool MarkSucceeded(v1::JobResult result);
  // Succeeds with a shared result: `result_bytes` is its whole encoded size
  // (0 = measure it; larger when rows live in a file), `cached_from` the job
  // that computed it when it came from the result cache.
  bool MarkSucceeded(std::shared_ptr<const v1::JobResult> result,
                     std::uint64_t result_bytes,
                     const std::string& cached_from = "");
  bool MarkFailed(const std::string& code, const std::string& message);
  bool MarkCancelled(const std::string& message);
  void SetProgress(double fraction);

 private:
  bool FinishLocked(std::unique_lock<std::mutex>& lock, v1::JobState state,
                    const std::string& code, const std::string& message,
                    const std::string& note = "");
  void AppendStateEvent(v1::JobState state, const v1::JobError* error,
                        const std::string& message);

  const std::string id_;
  const std::string tenant_;
  const std::uint64_t ordinal_;
  const v1::JobSpec spec_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> cancel_requested_{false};
  EventLog events_;

  mutable std::mutex mu_;
  v1::Job job_;  // state, times, progress, error, placement (no result)
  std::shared_ptr<const v1::JobResult> result_;
};

// Results up to this size ride inline in Get/Watch answers; larger ones are
// fetched with GetResult in chunks.
inline constexpr std::size_t kInlineResultMaxBytes = 1 << 20;

}  // namespace impulse::core
