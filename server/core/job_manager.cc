#include "server/core/job_manager.h"

#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <new>
#include <random>

#include "proto/duration_text.h"
#include "server/core/list_filter.h"

namespace impulse::core {
namespace {

// A per-tenant map key (tenant names never contain the separator).
std::string TenantKey(const std::string& tenant, const std::string& key) {
  return tenant + '\x1f' + key;
}

std::string KindName(const v1::JobSpec& spec) {
  const jobs::JobKind* kind = jobs::FindJobKind(spec);
  return kind == nullptr ? "none" : std::string(kind->name());
}

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t Micros(const google::protobuf::Timestamp& time) {
  return time.seconds() * 1'000'000 + time.nanos() / 1'000;
}

// The file under results/ that holds (part of) a result; "" for none.
std::string ResultFileKey(const v1::JobResult* result) {
  if (result == nullptr || !result->has_distance_matrix()) return "";
  return result->distance_matrix().storage_key();
}

// JobSpec.timeout; zero when unset (no limit).
std::chrono::nanoseconds TimeoutOf(const v1::JobSpec& spec) {
  if (!spec.has_timeout()) return std::chrono::nanoseconds(0);
  return std::chrono::seconds(spec.timeout().seconds()) +
         std::chrono::nanoseconds(spec.timeout().nanos());
}

constexpr std::int64_t kMaxTimeoutSeconds = std::int64_t{10} * 366 * 86'400;

}  // namespace

// What a running job sees: the cancel flag and a progress sink into its log.
class JobManager::RunContext final : public jobs::JobContext {
 public:
  RunContext(const std::shared_ptr<JobRecord>& job, JobManager* manager)
      : job_(job), manager_(manager) {
    control_.cancel = &job->cancel_flag();
  }
  const RunControl& control() const override { return control_; }
  void ReportProgress(v1::JobEvent event) override {
    job_->SetProgress(event.fraction());
    event.set_job_id(job_->id());
    job_->events().Append(std::move(event));
  }
  std::string job_id() const override { return job_->id(); }
  Result<std::shared_ptr<const jobs::DatasetContent>> OpenDataset(
      std::string_view name) const override {
    return manager_->StoreFor(job_->tenant()).Read(name, "dataset");
  }
  jobs::IndexRegistry* indexes() const override {
    return &manager_->IndexesFor(job_->tenant());
  }
  std::string result_dir() const override { return manager_->result_dir(); }
  jobs::Limits limits() const override { return manager_->options_.limits; }

 private:
  const std::shared_ptr<JobRecord>& job_;
  JobManager* manager_;
  RunControl control_;
};

JobManager::JobManager(JobManagerOptions options)
    : options_(std::move(options)),
      cluster_(options_.cluster.get()),
      datasets_(std::make_unique<DatasetStore>(DatasetStoreOptions{
          .dir = options_.storage_dir.empty()
                     ? ""
                     : options_.storage_dir + "/datasets",
          .max_dataset_bytes = options_.max_dataset_bytes})),
      cache_(options_.result_cache_bytes),
      scheduler_(
          options_.scheduler,
          [this](const std::shared_ptr<JobRecord>& job) { RunJob(job); }) {}

JobManager::~JobManager() {
  // Cluster: no new claims; the jobs this replica still holds stop here and
  // their leases go to other replicas.
  StopCluster();
  // Submits still waiting for the journal are answered while everything
  // they touch (scheduler, indexes) is still here.
  if (journal_ != nullptr) journal_->Sync();
  std::lock_guard lock(mu_);
  for (auto& [id, job] : by_id_) job->cancel_flag().store(true);
}

double JobManager::cpu_utilization() const {
  const std::size_t slots = std::max<std::size_t>(1, scheduler_.max_running());
  const std::size_t cpu_running =
      scheduler_.running() - scheduler_.running_gpu();
  return std::min(
      1.0, static_cast<double>(cpu_running) / static_cast<double>(slots));
}

void JobManager::CountFinished(const JobRecord& job, double run_seconds) {
  finished_.fetch_add(1, std::memory_order_relaxed);
  if (options_.metrics == nullptr) return;
  const v1::Job view = job.ToProto(false);
  const std::string kind = KindName(job.spec());
  const std::string device = view.placed_on() == v1::GPU
                                 ? "GPU"
                                 : (view.has_start_time() ? "CPU" : "NONE");
  options_.metrics->jobs_finished
      .WithLabels({kind, device, v1::JobState_Name(view.state())})
      .Increment();
  if (run_seconds >= 0) {
    options_.metrics->job_duration.WithLabels({kind, device})
        .Observe(run_seconds);
  }
}

void JobManager::BeginDrain() {
  draining_ = true;
  scheduler_.Pause();
}

bool JobManager::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  return scheduler_.WaitIdle(deadline);
}

void JobManager::AnnounceShutdown() {
  std::lock_guard lock(mu_);
  for (auto& [id, job] : by_id_) {
    const v1::JobState state = job->state();
    if (IsTerminal(state)) continue;
    v1::JobEvent event;
    event.set_job_id(id);
    event.set_type(v1::STATE_CHANGED);
    event.set_state(state);
    event.set_message(
        "this server is shutting down; the job continues after a restart: "
        "watch again "
        "with after_seq");
    job->events().Append(std::move(event));
  }
}

void JobManager::WakeAllWatchers() {
  if (mirrors_ != nullptr) mirrors_->WakeAll();
  std::lock_guard lock(mu_);
  for (auto& [id, job] : by_id_) job->events().WakeAll();
}

std::string JobManager::NewJobId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  const std::uint64_t value = rng();
  for (int i = 15; i >= 0; --i)
    buf[15 - i] = "0123456789abcdef"[(value >> (4 * i)) & 0xF];
  buf[16] = '\0';
  return std::string("j-") + buf;
}

Status JobManager::ValidateSpec(const v1::JobSpec& spec,
                                const std::string& tenant) const {
  const jobs::JobKind* kind = jobs::FindJobKind(spec);
  if (kind == nullptr) {
    return Error::InvalidArgument(
        "spec.kind",
        "no job kind set; give one of: particles, pi, distance_matrix, knn, "
        "wordcount, index, table");
  }
  if (!v1::Device_IsValid(spec.device())) {
    return Error::InvalidArgument("spec.device",
                                  "unknown device; use AUTO, CPU or GPU");
  }
  if (spec.labels_size() > static_cast<int>(options_.max_labels)) {
    return Error::InvalidArgument(
        "spec.labels",
        "more than " + std::to_string(options_.max_labels) + " labels");
  }
  for (const auto& [key, value] : spec.labels()) {
    if (key.empty() || key.size() > options_.max_label_bytes ||
        value.size() > options_.max_label_bytes) {
      return Error::InvalidArgument(
          "spec.labels", "label keys must be 1.." +
                             std::to_string(options_.max_label_bytes) +
                             " bytes and values at most as long");
    }
  }
  if (spec.idempotency_key().size() > options_.max_idempotency_key_bytes) {
    return Error::InvalidArgument(
        "spec.idempotency_key",
        "longer than " + std::to_string(options_.max_idempotency_key_bytes) +
            " bytes");
  }
  if (spec.has_timeout()) {
    const google::protobuf::Duration& timeout = spec.timeout();
    if (timeout.seconds() < 0 || timeout.nanos() < 0 ||
        timeout.nanos() > 999'999'999 ||
        timeout.seconds() > kMaxTimeoutSeconds) {
      return Error::InvalidArgument(
          "spec.timeout",
          "must be a duration from 0 (no limit) to 10 years, e.g. \"90s\"");
    }
  }
  if (Status status = kind->Validate(spec, options_.limits); !status.ok()) {
    return status;
  }
  if (Status status = ValidateDatasets(spec, *kind, tenant); !status.ok()) {
    return status;
  }
  if (spec.device() == v1::GPU && !options_.gpu_available) {
    return Error{ErrorCode::kFailedPrecondition,
                 "device GPU was requested but this server has no usable GPU; "
                 "use AUTO or CPU",
                 "spec.device"};
  }
  if (spec.device() == v1::GPU && !kind->HasGpuPath()) {
    return Error{ErrorCode::kFailedPrecondition,
                 std::string("job kind ") + std::string(kind->name()) +
                     " has no GPU implementation; use AUTO or CPU",
                 "spec.device"};
  }
  return {};
}

Status JobManager::AcceptingLocked() const {
  if (draining_.load()) {
    return Error{ErrorCode::kUnavailable,
                 "this server is shutting down and accepts no new jobs; "
                 "retry on another "
                 "replica or after the restart",
                 ""};
  }
  if (!journal_ok_.load()) {
    return Error{
        ErrorCode::kUnavailable,
        "the journal is unavailable, so no new work is accepted; see the "
        "server log",
        ""};
  }
  return {};
}

Error JobManager::NotJournaled(const Error& error) {
  JournalFailed(error);
  return Error{ErrorCode::kUnavailable,
               "the journal cannot store the job, so it was not accepted and "
               "no new work is accepted; see the server log (" +
                   error.message + ")",
               ""};
}

Result<std::shared_ptr<JobRecord>> JobManager::Submit(
    const v1::JobSpec& spec, const std::string& tenant) {
  if (Status status = ValidateSpec(spec, tenant); !status.ok()) {
    return status.error();
  }
  if (cluster_ != nullptr) return SubmitShared(spec, tenant);

  std::lock_guard lock(mu_);
  if (std::optional<Result<std::shared_ptr<JobRecord>>> answer =
          AnswerWithoutRunLocked(spec, tenant)) {
    return std::move(*answer);
  }
  Result<std::shared_ptr<JobRecord>> job = NewJournaledJobLocked(spec, tenant);
  if (!job.ok()) return job.error();
  return QueueLocked(std::move(job.value()));
}

std::optional<Result<std::shared_ptr<JobRecord>>>
JobManager::AnswerWithoutRunLocked(const v1::JobSpec& spec,
                                   const std::string& tenant) {
  if (!spec.idempotency_key().empty()) {
    auto it =
        by_idempotency_key_.find(TenantKey(tenant, spec.idempotency_key()));
    if (it != by_idempotency_key_.end()) {
      if (google::protobuf::util::MessageDifferencer::Equals(it->second->spec(),
                                                             spec)) {
        return it->second;
      }
      return Error{ErrorCode::kAlreadyExists,
                   "idempotency key already used by job " + it->second->id() +
                       " with a different spec",
                   "spec.idempotency_key"};
    }
  }
  if (Status status = AcceptingLocked(); !status.ok()) return status.error();
  // Under mu_: a dataset cannot be deleted between this check and the
  // job being indexed (DeleteDataset takes mu_ too).
  if (Result<std::vector<std::string>> digests =
          DatasetDigests(spec, *jobs::FindJobKind(spec), tenant);
      !digests.ok()) {
    return digests.error();
  }
  if (std::optional<std::string> key =
          CacheKey(spec, *jobs::FindJobKind(spec), tenant)) {
    if (std::optional<ResultCache::Entry> hit = cache_.Find(*key)) {
      return SubmitCachedLocked(spec, *hit, tenant);
    }
  }
  return std::nullopt;
}

std::shared_ptr<JobRecord> JobManager::NewJobLocked(const v1::JobSpec& spec,
                                                    const std::string& tenant) {
  auto job = std::make_shared<JobRecord>(NewJobId(), next_ordinal_++, spec,
                                         options_.event_log, 1, tenant);
  job->MarkQueued();
  return job;
}

Result<std::shared_ptr<JobRecord>> JobManager::NewJournaledJobLocked(
    const v1::JobSpec& spec, const std::string& tenant) {
  std::shared_ptr<JobRecord> job = NewJobLocked(spec, tenant);
  if (journal_ != nullptr) {
    // Journaled before Submit answers: an accepted job survives a crash.
    if (Status status = journal_->Insert(job->ToProto(false), job->ordinal());
        !status.ok()) {
      return NotJournaled(status.error());
    }
  }
  return job;
}

void JobManager::SubmitAsync(const v1::JobSpec& spec, const std::string& tenant,
                             SubmitDone done) {
  const jobs::JobKind* kind = jobs::FindJobKind(spec);
  // The group-committed path is for plain jobs of one process. Idempotency
  // keys and datasets need Submit's single critical section (a retry must
  // find the first job; a dataset must not go before the job is indexed).
  // Submit also answers specs of no known kind.
  if (cluster_ != nullptr || journal_ == nullptr || kind == nullptr ||
      !spec.idempotency_key().empty() || !kind->DatasetsUsed(spec).empty()) {
    done(Submit(spec, tenant));
    return;
  }
  if (Status status = ValidateSpec(spec, tenant); !status.ok()) {
    done(status.error());
    return;
  }
  std::shared_ptr<JobRecord> job;
  {
    std::unique_lock lock(mu_);
    if (std::optional<Result<std::shared_ptr<JobRecord>>> answer =
            AnswerWithoutRunLocked(spec, tenant)) {
      lock.unlock();
      done(std::move(*answer));
      return;
    }
    job = NewJobLocked(spec, tenant);
  }
  // Queued (and indexed) only once journaled, as in Submit: it cannot run,
  // be found or be journaled again before its insert is committed.
  const v1::Job row = job->ToProto(false);
  const std::uint64_t ordinal = job->ordinal();
  journal_->InsertAsync(
      row, ordinal,
      [this, job = std::move(job), done = std::move(done)](Status stored) {
        Result<std::shared_ptr<JobRecord>> answer = [&] {
          std::lock_guard lock(mu_);
          if (!stored.ok()) {
            return Result<std::shared_ptr<JobRecord>>(
                NotJournaled(stored.error()));
          }
          return QueueLocked(job);
        }();
        done(std::move(answer));
      });
}

Result<std::shared_ptr<JobRecord>> JobManager::QueueLocked(
    std::shared_ptr<JobRecord> job) {
  const v1::JobSpec& spec = job->spec();
  if (options_.metrics != nullptr) {
    options_.metrics->jobs_submitted.WithLabels({KindName(spec)}).Increment();
  }
  spdlog::info("job={} kind={} state=QUEUED priority={}", job->id(),
               KindName(spec), spec.priority());
  const bool on_gpu = Place(spec, *jobs::FindJobKind(spec)) == v1::GPU;
  if (Status status = scheduler_.Enqueue(job, on_gpu); !status.ok()) {
    spdlog::warn("job={} kind={} rejected reason=\"{}\"", job->id(),
                 KindName(spec), status.error().message);
    // Refused, so it must not run after a restart either.
    if (journal_ != nullptr) {
      if (Status deleted = journal_->Delete(job->id()); !deleted.ok()) {
        JournalFailed(deleted.error());
      }
    }
    return status.error();
  }
  Index(job);
  return job;
}

void JobManager::Index(const std::shared_ptr<JobRecord>& job) {
  by_id_.emplace(job->id(), job);
  by_ordinal_.emplace(job->ordinal(), job);
  if (!job->spec().idempotency_key().empty()) {
    by_idempotency_key_.emplace(
        TenantKey(job->tenant(), job->spec().idempotency_key()), job);
  }
}

void JobManager::Journal(const JobRecord& job, const v1::JobResult* result) {
  if (journal_ == nullptr) return;
  if (Status status = journal_->Update(job.ToProto(false), result);
      !status.ok()) {
    JournalFailed(status.error());
  }
}

void JobManager::JournalFailed(const Error& error) {
  if (cluster_ != nullptr) {
    // Not a latch: readiness follows the store's health, which logs the
    // outage once and comes back by itself.
    spdlog::debug("cluster store: {}", error.ToString());
    return;
  }
  if (journal_ok_.exchange(false)) {
    spdlog::error(
        "journal={} failed: {}; refusing new work from now on (Submit and Run "
        "answer UNAVAILABLE, /readyz 503, gRPC health NOT_SERVING); jobs "
        "already accepted go on, and changes the journal could not keep are "
        "redone after a restart; fix the cause (disk space, file size limit, "
        "permissions) and restart impulsed",
        journal_ != nullptr ? journal_->path() : options_.journal_path,
        error.ToString());
  } else {
    spdlog::debug("journal still failing: {}", error.ToString());
  }
}

template <typename Mark>
bool JobManager::Finish(const JobRecord& job, Mark mark) {
  std::lock_guard lock(mu_);
  if (!mark()) return false;
  // Cluster: the store keeps finished jobs (and expires them), not memory.
  if (cluster_ == nullptr) RecordFinishedLocked(job, NowMicros());
  return true;
}

void JobManager::RecordFinishedLocked(const JobRecord& job,
                                      std::int64_t end_micros) {
  if (!finished_end_.emplace(job.ordinal(), end_micros).second) return;
  finished_order_.emplace(end_micros, job.ordinal());
  if (std::string key = ResultFileKey(job.result().get()); !key.empty()) {
    ++result_file_refs_[key];
  }
}

std::string JobManager::UnindexLocked(const JobRecord& job) {
  by_id_.erase(job.id());
  by_ordinal_.erase(job.ordinal());
  if (const std::string& key = job.spec().idempotency_key(); !key.empty()) {
    auto it = by_idempotency_key_.find(TenantKey(job.tenant(), key));
    if (it != by_idempotency_key_.end() && it->second.get() == &job) {
      by_idempotency_key_.erase(it);
    }
  }
  if (auto end = finished_end_.find(job.ordinal());
      end != finished_end_.end()) {
    finished_order_.erase({end->second, job.ordinal()});
    finished_end_.erase(end);
  }
  // Under mu_, which Submit holds while it looks in the cache: no new job
  // can pick up this result from here on.
  cache_.EraseJob(job.id());
  std::string file = ResultFileKey(job.result().get());
  if (file.empty()) return "";
  auto ref = result_file_refs_.find(file);
  if (ref != result_file_refs_.end()) {
    if (--ref->second > 0) return "";
    result_file_refs_.erase(ref);
  }
  return file;
}

void JobManager::RemoveResultFile(const std::string& key) const {
  if (key.empty() || options_.storage_dir.empty()) return;
  const std::filesystem::path path = std::filesystem::path(result_dir()) / key;
  std::error_code ec;
  if (!std::filesystem::remove(path, ec) && ec) {
    spdlog::warn("cannot remove result file {}: {}", path.string(),
                 ec.message());
  }
}

void JobManager::RemoveOrphanResultFiles() {
  if (options_.storage_dir.empty()) return;
  std::error_code ec;
  std::filesystem::directory_iterator it(result_dir(), ec), end;
  if (ec) return;  // no results/ yet
  std::size_t removed = 0;
  std::lock_guard lock(mu_);
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (result_file_refs_.contains(name)) continue;
    std::error_code remove_ec;
    if (std::filesystem::remove(it->path(), remove_ec)) ++removed;
  }
  if (removed > 0) {
    spdlog::info("removed {} result file(s) no job refers to from {}", removed,
                 result_dir());
  }
}

std::size_t JobManager::finished_kept() const {
  std::lock_guard lock(mu_);
  return finished_order_.size();
}

Result<v1::Job> JobManager::Delete(const std::string& id,
                                   const std::string& tenant) {
  if (cluster_ != nullptr) return DeleteShared(id, tenant);
  std::shared_ptr<JobRecord> job;
  std::string file;
  v1::Job view;
  {
    std::lock_guard lock(mu_);
    auto it = by_id_.find(id);
    // Another tenant's job answers exactly like a missing one.
    if (it == by_id_.end() || it->second->tenant() != tenant) {
      return Error{ErrorCode::kNotFound, "no job with id '" + id + "'", "id"};
    }
    job = it->second;
    if (!finished_end_.contains(job->ordinal())) {
      return Error{ErrorCode::kFailedPrecondition,
                   "job " + id + " is " + v1::JobState_Name(job->state()) +
                       "; only a finished job can be deleted: cancel it "
                       "first, then delete it once it has ended",
                   "id"};
    }
    if (journal_ != nullptr) {
      if (Status status = journal_->Delete(id); !status.ok()) {
        JournalFailed(status.error());
        return Error{ErrorCode::kUnavailable,
                     "the journal cannot delete job " + id +
                         ", so it was kept; see the server log (" +
                         status.error().message + ")",
                     ""};
      }
    }
    view = job->ToProto(/*with_result=*/false);
    file = UnindexLocked(*job);
  }
  RemoveResultFile(file);
  spdlog::info("job={} kind={} deleted state={}", id, KindName(job->spec()),
               v1::JobState_Name(view.state()));
  return view;
}

std::size_t JobManager::SweepExpired(std::size_t max_jobs) {
  if (!retention_enabled() || max_jobs == 0) return 0;
  const std::int64_t now = NowMicros();
  const std::int64_t retention_us =
      std::chrono::duration_cast<std::chrono::microseconds>(options_.retention)
          .count();
  std::vector<std::shared_ptr<JobRecord>> due;
  std::vector<std::string> ids;
  std::vector<std::string> files;
  std::size_t by_age = 0;
  std::size_t kept = 0;
  {
    std::lock_guard lock(mu_);
    for (auto it = finished_order_.begin();
         it != finished_order_.end() && due.size() < max_jobs; ++it) {
      const bool too_old = retention_us > 0 && it->first <= now - retention_us;
      const bool too_many =
          options_.retention_max_jobs > 0 &&
          finished_order_.size() - due.size() > options_.retention_max_jobs;
      if (!too_old && !too_many) break;
      auto job = by_ordinal_.find(it->second);
      if (job == by_ordinal_.end()) continue;  // cannot happen
      by_age += too_old;
      due.push_back(job->second);
      ids.push_back(job->second->id());
    }
    if (due.empty()) return 0;
    if (journal_ != nullptr) {
      // One transaction per batch; the rows go before the files, so a crash
      // in between leaves only orphan files, removed at the next start.
      if (Status status = journal_->DeleteMany(ids); !status.ok()) {
        JournalFailed(status.error());
        return 0;
      }
    }
    for (const std::shared_ptr<JobRecord>& job : due) {
      if (std::string file = UnindexLocked(*job); !file.empty()) {
        files.push_back(std::move(file));
      }
    }
    kept = finished_order_.size();
  }
  for (const std::string& file : files) RemoveResultFile(file);
  for (const std::shared_ptr<JobRecord>& job : due) {
    spdlog::debug("job={} kind={} expired", job->id(), KindName(job->spec()));
  }
  spdlog::info(
      "retention removed={} by_age={} by_count={} result_files={} "
      "finished_kept={}",
      due.size(), by_age, due.size() - by_age, files.size(), kept);
  return due.size();
}

Status JobManager::Recover() {
  if (Status status = datasets_->Open(); !status.ok()) return status;
  if (cluster_ != nullptr) {
    StartCluster();
    return {};
  }
  if (options_.journal_path.empty()) {
    RemoveOrphanResultFiles();
    return {};
  }
  Result<std::unique_ptr<core::Journal>> opened =
      core::Journal::Open(options_.journal_path, options_.journal_full_sync);
  if (!opened.ok()) return opened.error();
  Result<std::vector<core::Journal::StoredJob>> stored =
      opened.value()->LoadAll();
  if (!stored.ok()) return stored.error();
  std::size_t requeued = 0;
  std::unique_lock lock(mu_);
  journal_ = std::move(opened.value());
  for (core::Journal::StoredJob& s : stored.value()) {
    const v1::JobState was = s.job.state();
    const std::uint64_t last_seq = s.job.last_seq();
    auto job = std::make_shared<JobRecord>(
        s.job.id(), s.ordinal, s.job.spec(), options_.event_log,
        IsTerminal(was) ? std::max<std::uint64_t>(last_seq, 1)
                        : std::max(last_seq + 1, (journal_->boot() << 32) + 1),
        s.job.tenant());
    std::shared_ptr<const v1::JobResult> result;
    if (s.result.has_value()) {
      result = std::make_shared<const v1::JobResult>(std::move(*s.result));
    }
    job->Restore(s.job, std::move(result));
    next_ordinal_ = std::max(next_ordinal_, s.ordinal + 1);
    Index(job);
    if (IsTerminal(was)) {
      RecordFinishedLocked(
          *job, s.job.has_end_time() ? Micros(s.job.end_time()) : NowMicros());
      continue;
    }
    job->MarkQueued(
        was == v1::RUNNING
            ? "re-queued after a restart; it was running and will run again "
              "from the start"
            : "still queued after a restart");
    Journal(*job);
    const jobs::JobKind* kind = jobs::FindJobKind(job->spec());
    scheduler_.EnqueueUnbounded(
        job, kind != nullptr && Place(job->spec(), *kind) == v1::GPU);
    ++requeued;
  }
  spdlog::info("journal={} jobs={} requeued={}", journal_->path(),
               stored.value().size(), requeued);
  lock.unlock();
  RemoveOrphanResultFiles();
  // Restored jobs already past retention go before anything is served.
  while (SweepExpired(1024) == 1024) {
  }
  return {};
}

Result<std::shared_ptr<JobRecord>> JobManager::Find(
    const std::string& id, const std::string& tenant) const {
  if (cluster_ != nullptr) return FindShared(id, tenant);
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  // Another tenant's job answers exactly like a missing one.
  if (it == by_id_.end() || it->second->tenant() != tenant) {
    return Error{ErrorCode::kNotFound, "no job with id '" + id + "'", "id"};
  }
  return it->second;
}

Result<v1::ListJobsResponse> JobManager::List(
    const v1::ListJobsRequest& request, const std::string& tenant) const {
  if (request.page_size() < 0) {
    return Error::InvalidArgument("page_size", "must be >= 0");
  }
  const std::size_t page_size =
      request.page_size() == 0 ? 50 : std::min(request.page_size(), 1000);
  std::uint64_t after = std::numeric_limits<std::uint64_t>::max();
  if (!request.page_token().empty()) {
    const std::string& token = request.page_token();
    auto [ptr, ec] =
        std::from_chars(token.data(), token.data() + token.size(), after);
    if (ec != std::errc() || ptr != token.data() + token.size()) {
      return Error::InvalidArgument("page_token",
                                    "not a token from a previous List");
    }
  }
  if (cluster_ != nullptr) return ListShared(request, page_size, after, tenant);
  v1::ListJobsResponse response;
  std::uint64_t last_returned = 0;
  std::lock_guard lock(mu_);
  for (auto it = by_ordinal_.upper_bound(after); it != by_ordinal_.end();
       ++it) {
    const JobRecord& job = *it->second;
    if (job.tenant() != tenant) continue;
    if (!MatchesListFilter(request, job.state(), job.spec())) continue;
    if (static_cast<std::size_t>(response.jobs_size()) == page_size) {
      response.set_next_page_token(std::to_string(last_returned));
      break;
    }
    *response.add_jobs() = job.ToProto(/*with_result=*/false);
    last_returned = it->first;
  }
  return response;
}

Result<std::shared_ptr<JobRecord>> JobManager::Cancel(
    const std::string& id, const std::string& tenant) {
  if (cluster_ != nullptr) return CancelShared(id, tenant);
  Result<std::shared_ptr<JobRecord>> found = Find(id, tenant);
  if (!found.ok()) return found;
  const std::shared_ptr<JobRecord>& job = found.value();
  job->cancel_requested().store(true);
  job->cancel_flag().store(true);
  if (Finish(*job, [&] {
        return scheduler_.Remove(*job) &&
               job->MarkCancelled("cancelled while queued");
      })) {
    Journal(*job);
    CountFinished(*job, -1);
    spdlog::info("job={} kind={} state=CANCELLED while=queued", job->id(),
                 KindName(job->spec()));
  }
  return job;
}

Result<std::vector<v1::ResultChunk>> JobManager::ResultChunks(
    const std::string& id, std::size_t chunk_bytes,
    const std::string& tenant) const {
  Result<std::unique_ptr<ResultChunkStream>> stream =
      StreamResult(id, chunk_bytes, tenant);
  if (!stream.ok()) return stream.error();
  std::vector<v1::ResultChunk> chunks;
  for (;;) {
    v1::ResultChunk chunk;
    Result<bool> more = stream.value()->Next(&chunk);
    if (!more.ok()) return more.error();
    if (!more.value()) break;
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

Result<std::unique_ptr<ResultChunkStream>> JobManager::StreamResult(
    const std::string& id, std::size_t chunk_bytes, const std::string& tenant,
    std::string* held_by) const {
  Result<std::shared_ptr<JobRecord>> found = Find(id, tenant);
  if (!found.ok()) return found.error();
  const JobRecord& job = *found.value();
  std::shared_ptr<const v1::JobResult> result = job.result();
  if (result == nullptr) {
    return Error{ErrorCode::kFailedPrecondition,
                 "job " + id + " is " + v1::JobState_Name(job.state()) +
                     "; only a SUCCEEDED job has a result",
                 "id"};
  }
  if (held_by != nullptr) {
    *held_by = RemoteHolder(*result);
    if (!held_by->empty()) return std::unique_ptr<ResultChunkStream>();
  }
  return StreamResultChunks(std::move(result), chunk_bytes, result_dir());
}

void JobManager::SetAdvertiseAddress(std::string address) {
  std::lock_guard lock(advertise_mu_);
  advertise_ = std::move(address);
}

std::string JobManager::RemoteHolder(const v1::JobResult& result) const {
  const std::string key = ResultFileKey(&result);
  const std::string& holder = result.distance_matrix().storage_host();
  if (key.empty() || holder.empty()) return "";
  {
    std::lock_guard lock(advertise_mu_);
    if (holder == advertise_) return "";
  }
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::path(result_dir()) / key, ec)) {
    return "";
  }
  return holder;
}

v1::Device JobManager::Place(const v1::JobSpec& spec,
                             const jobs::JobKind& kind) const {
  switch (spec.device()) {
    case v1::GPU:
      return v1::GPU;
    case v1::CPU:
      return v1::CPU;
    default:
      return options_.gpu_available && kind.HasGpuPath() &&
                     kind.PrefersGpu(spec)
                 ? v1::GPU
                 : v1::CPU;
  }
}

void JobManager::RunJob(const std::shared_ptr<JobRecord>& job) {
  const std::string kind_name = KindName(job->spec());
  if (job->cancel_flag().load() && job->cancel_requested().load()) {
    if (Finish(*job, [&] {
          return job->MarkCancelled("cancelled before it started");
        })) {
      Journal(*job);
      CountFinished(*job, -1);
      spdlog::info("job={} kind={} state=CANCELLED while=queued", job->id(),
                   kind_name);
    }
    return;
  }
  const jobs::JobKind& kind = *jobs::FindJobKind(job->spec());
  const v1::Device device = Place(job->spec(), kind);
  if (!job->MarkRunning(device)) return;
  Journal(*job);
  spdlog::info("job={} kind={} state=RUNNING device={}", job->id(), kind_name,
               v1::Device_Name(device));
  const auto start = std::chrono::steady_clock::now();
  // The timeout counts from here (RUNNING), not from the submit.
  const std::chrono::nanoseconds timeout = TimeoutOf(job->spec());
  std::atomic<bool> timed_out{false};
  std::optional<DeadlineWatcher::Handle> deadline;
  if (timeout.count() > 0) {
    deadline = deadlines_.Add(
        start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    timeout),
        &timed_out, &job->cancel_flag());
  }

  RunContext context(job, this);
  Result<v1::JobResult> result = Error{ErrorCode::kInternal, "not run", ""};
  try {
    result = kind.Run(job->spec(), device, context);
  } catch (const std::bad_alloc&) {
    result = Error{ErrorCode::kResourceExhausted, "out of memory", ""};
  } catch (const std::exception& e) {
    result = Error{ErrorCode::kInternal,
                   std::string("unexpected error: ") + e.what(), ""};
  }
  if (deadline.has_value()) deadlines_.Remove(*deadline);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  if (timed_out.load()) {
    // Past its timeout: FAILED, even when the kind returned a result after
    // the deadline (the outcome does not depend on where a chunk ended).
    if (result.ok()) RemoveResultFile(ResultFileKey(&result.value()));
    const std::string message = "the job ran longer than its timeout of " +
                                FormatDuration(timeout) +
                                " (spec.timeout) and was stopped";
    if (Finish(*job, [&] {
          return job->MarkFailed(ErrorCodeName(ErrorCode::kDeadlineExceeded),
                                 message);
        })) {
      Journal(*job);
      CountFinished(*job, seconds);
    }
    spdlog::warn(
        "job={} kind={} state=FAILED code=DEADLINE_EXCEEDED seconds={:.6f} "
        "timeout={}",
        job->id(), kind_name, seconds, FormatDuration(timeout));
    return;
  }
  if (result.ok()) {
    if (cluster_ != nullptr && !ResultFileKey(&result.value()).empty()) {
      // Other replicas read the rows from here (RemoteHolder).
      std::lock_guard lock(advertise_mu_);
      result.value().mutable_distance_matrix()->set_storage_host(advertise_);
    }
    auto shared =
        std::make_shared<const v1::JobResult>(std::move(result.value()));
    // Cached before the terminal event: a client that saw it and submits
    // the same job again gets the cached result.
    RememberResult(*job, shared);
    if (Finish(*job, [&] {
          return job->MarkSucceeded(shared, FullResultBytes(*shared));
        })) {
      Journal(*job, job->result().get());
      CountFinished(*job, seconds);
    }
    spdlog::info("job={} kind={} state=SUCCEEDED seconds={:.6f}", job->id(),
                 kind_name, seconds);
  } else if (result.error().code == ErrorCode::kCancelled &&
             !job->cancel_requested().load()) {
    // Stopped by a server shutdown, not by a client: stays journaled as
    // RUNNING, so the next start queues it again (cluster: another replica
    // takes it over).
    spdlog::info(
        "job={} kind={} stopped by shutdown; it will run again {}", job->id(),
        kind_name,
        cluster_ != nullptr ? "on another replica" : "after a restart");
  } else if (result.error().code == ErrorCode::kCancelled) {
    if (Finish(*job,
               [&] { return job->MarkCancelled("cancelled while running"); })) {
      Journal(*job);
      CountFinished(*job, seconds);
    }
    spdlog::info("job={} kind={} state=CANCELLED while=running seconds={:.6f}",
                 job->id(), kind_name, seconds);
  } else {
    const Error& error = result.error();
    if (Finish(*job, [&] {
          return job->MarkFailed(ErrorCodeName(error.code), error.ToString());
        })) {
      Journal(*job);
      CountFinished(*job, seconds);
    }
    spdlog::warn("job={} kind={} state=FAILED code={} reason=\"{}\"", job->id(),
                 kind_name, ErrorCodeName(error.code), error.ToString());
  }
}

}  // namespace impulse::core
