#include "server/core/job_record.h"

#include "server/core/clock.h"

namespace impulse::core {
namespace {

google::protobuf::Timestamp Now() { return NowTimestamp(); }

}  // namespace

JobRecord::JobRecord(std::string id, std::uint64_t ordinal, v1::JobSpec spec,
                     EventLog::Options log_options, std::uint64_t first_seq,
                     std::string tenant)
    : id_(std::move(id)),
      tenant_(std::move(tenant)),
      ordinal_(ordinal),
      spec_(std::move(spec)),
      events_(log_options, first_seq) {
  job_.set_id(id_);
  job_.set_tenant(tenant_);
  job_.set_state(v1::JOB_STATE_UNSPECIFIED);
  *job_.mutable_create_time() = Now();
}

v1::JobState JobRecord::state() const {
  std::lock_guard lock(mu_);
  return job_.state();
}

v1::Job JobRecord::ToProto(bool with_result) const {
  v1::Job job;
  std::shared_ptr<const v1::JobResult> result;
  {
    std::lock_guard lock(mu_);
    job = job_;
    result = result_;
  }
  *job.mutable_spec() = spec_;
  job.set_last_seq(events_.last_seq());
  if (with_result && result != nullptr &&
      job.result_bytes() <= kInlineResultMaxBytes) {
    *job.mutable_result() = *result;
  }
  return job;
}

std::shared_ptr<const v1::JobResult> JobRecord::result() const {
  std::lock_guard lock(mu_);
  return result_;
}

void JobRecord::AppendStateEvent(v1::JobState state, const v1::JobError* error,
                                 const std::string& message) {
  v1::JobEvent event;
  event.set_job_id(id_);
  event.set_type(v1::STATE_CHANGED);
  event.set_state(state);
  if (error != nullptr) *event.mutable_error() = *error;
  if (state == v1::SUCCEEDED) event.set_fraction(1.0);
  if (!message.empty()) event.set_message(message);
  events_.Append(std::move(event));
}

bool JobRecord::MarkQueued(const std::string& message) {
  {
    std::lock_guard lock(mu_);
    if (IsTerminal(job_.state())) return false;
    job_.set_state(v1::QUEUED);
    job_.set_progress(0);
  }
  AppendStateEvent(v1::QUEUED, nullptr, message);
  return true;
}

void JobRecord::Restore(const v1::Job& stored,
                        std::shared_ptr<const v1::JobResult> result) {
  {
    std::lock_guard lock(mu_);
    job_ = stored;
    job_.clear_spec();
    job_.clear_result();
    job_.clear_last_seq();
    result_ = std::move(result);
  }
  if (IsTerminal(stored.state())) {
    AppendStateEvent(stored.state(),
                     stored.has_error() ? &stored.error() : nullptr,
                     "restored from the journal");
  }
}

void JobRecord::Refresh(const v1::Job& stored,
                        std::shared_ptr<const v1::JobResult> result) {
  std::lock_guard lock(mu_);
  job_ = stored;
  job_.clear_spec();
  job_.clear_result();
  job_.clear_last_seq();
  result_ = std::move(result);
}

bool JobRecord::MarkRunning(v1::Device placed_on) {
  {
    std::lock_guard lock(mu_);
    if (job_.state() != v1::QUEUED) return false;
    job_.set_state(v1::RUNNING);
    job_.set_placed_on(placed_on);
    job_.set_attempt(job_.attempt() + 1);
    *job_.mutable_start_time() = Now();
  }
  AppendStateEvent(v1::RUNNING, nullptr,
                   placed_on == v1::GPU ? "running on GPU" : "running on CPU");
  return true;
}

bool JobRecord::MarkSucceeded(v1::JobResult result) {
  return MarkSucceeded(std::make_shared<const v1::JobResult>(std::move(result)),
                       0);
}

bool JobRecord::MarkSucceeded(std::shared_ptr<const v1::JobResult> result,
                              std::uint64_t result_bytes,
                              const std::string& cached_from) {
  std::unique_lock lock(mu_);
  if (IsTerminal(job_.state())) return false;
  job_.set_result_bytes(result_bytes != 0 ? result_bytes
                                          : result->ByteSizeLong());
  result_ = std::move(result);
  if (!cached_from.empty()) {
    job_.set_cached(true);
    job_.set_cached_from(cached_from);
  }
  return FinishLocked(lock, v1::SUCCEEDED, "", "",
                      cached_from.empty() ? ""
                                          : "result from the cache (job " +
                                                cached_from + " computed it)");
}

bool JobRecord::MarkFailed(const std::string& code,
                           const std::string& message) {
  std::unique_lock lock(mu_);
  return FinishLocked(lock, v1::FAILED, code, message);
}

bool JobRecord::MarkCancelled(const std::string& message) {
  std::unique_lock lock(mu_);
  return FinishLocked(lock, v1::CANCELLED, "CANCELLED", message);
}

bool JobRecord::FinishLocked(std::unique_lock<std::mutex>& lock,
                             v1::JobState state, const std::string& code,
                             const std::string& message,
                             const std::string& note) {
  if (IsTerminal(job_.state())) return false;
  job_.set_state(state);
  *job_.mutable_end_time() = Now();
  if (state == v1::SUCCEEDED) job_.set_progress(1.0);
  v1::JobError error;
  if (!code.empty()) {
    error.set_code(code);
    error.set_message(message);
    *job_.mutable_error() = error;
  }
  lock.unlock();
  AppendStateEvent(state, code.empty() ? nullptr : &error, note);
  return true;
}

void JobRecord::SetProgress(double fraction) {
  std::lock_guard lock(mu_);
  job_.set_progress(fraction);
}

}  // namespace impulse::core
