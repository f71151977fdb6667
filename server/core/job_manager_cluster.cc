// Cluster mode of the JobManager: jobs are submitted to, looked up in and
// taken from a ClusterStore shared by every replica. The front-ends keep
// calling the same methods; what changes is where a job lives:
// - Submit writes the job and its first event to the store's queue.
// - Find, Get, Watch and GetResult use a copy of the stored job (JobMirrors)
//   whose event log follows the store, so they only ever show what the store
//   has: a watcher never sees an event, or a terminal state, that another
//   replica could later contradict.
// - A claim thread takes queued jobs when this replica has a free slot and
//   runs them here under a lease; the heartbeat thread publishes their
//   events and renews the leases. Their state changes go to the store
//   through JobStore::Update (the existing Journal calls), which only the
//   lease holder may make.
#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <limits>

#include "server/core/job_manager.h"
#include "server/core/list_filter.h"

namespace impulse::core {
namespace {

using namespace std::chrono_literals;

// How often owned jobs' events are published and leases renewed: the
// latency a remote watcher sees, and the latency of a remote cancel.
constexpr std::chrono::milliseconds kHeartbeatInterval = 50ms;
// Longest a claim waits on an empty queue (it is re-checked for free slots
// and shutdown in between).
constexpr std::chrono::milliseconds kClaimWait = 200ms;

Error StoreUnavailable(const Error& error) {
  return Error{ErrorCode::kUnavailable,
               "the cluster store is unavailable, so no new work is accepted "
               "here; retry (another replica may answer): " +
                   error.message,
               ""};
}

std::string KindNameOf(const v1::JobSpec& spec) {
  const jobs::JobKind* kind = jobs::FindJobKind(spec);
  return kind == nullptr ? "none" : std::string(kind->name());
}

}  // namespace

void JobManager::StartCluster() {
  cluster_->SetRetention(options_.retention);
  journal_ = options_.cluster;
  mirrors_ = std::make_unique<JobMirrors>(*cluster_, options_.event_log);
  claimer_ = std::thread([this] { ClaimLoop(); });
  heartbeat_ = std::thread([this] { HeartbeatLoop(); });
}

void JobManager::StopCluster() {
  if (cluster_ == nullptr) return;
  {
    std::lock_guard lock(cluster_mu_);
    cluster_stop_ = true;
  }
  cluster_cv_.notify_all();
  if (claimer_.joinable()) claimer_.join();
  if (heartbeat_.joinable()) heartbeat_.join();
  // Jobs still held here stop (without a terminal state) and go to other
  // replicas at once instead of after their leases expire.
  cluster_->ReleaseAll();
}

void JobManager::ClaimLoop() {
  for (;;) {
    {
      std::unique_lock lock(cluster_mu_);
      if (cluster_stop_) return;
    }
    const std::size_t slots = scheduler_.max_running();
    const std::size_t busy = scheduler_.running() + scheduler_.queued();
    if (draining_.load() || busy >= slots) {
      std::unique_lock lock(cluster_mu_);
      cluster_cv_.wait_for(lock, 20ms, [this] { return cluster_stop_; });
      continue;
    }
    Result<std::vector<ClaimedJob>> claimed =
        cluster_->Claim(slots - busy, kClaimWait);
    if (!claimed.ok()) {
      if (claimed.error().code != ErrorCode::kUnavailable) {
        spdlog::warn("cluster claim failed: {}", claimed.error().ToString());
      }
      std::unique_lock lock(cluster_mu_);
      cluster_cv_.wait_for(lock, 100ms, [this] { return cluster_stop_; });
      continue;
    }
    for (ClaimedJob& job : claimed.value()) AdoptClaimed(std::move(job));
  }
}

void JobManager::HeartbeatLoop() {
  std::unique_lock lock(cluster_mu_);
  while (!cluster_cv_.wait_for(lock, kHeartbeatInterval,
                               [this] { return cluster_stop_; })) {
    lock.unlock();
    cluster_->Heartbeat();
    lock.lock();
  }
}

void JobManager::AdoptClaimed(ClaimedJob claimed) {
  const v1::Job& stored = claimed.stored.job;
  // A takeover numbers its events from claims << 32, above anything the
  // previous owner may have shown a watcher (as after a restart).
  const std::uint64_t first_seq =
      claimed.claims <= 1
          ? claimed.last_seq + 1
          : std::max(claimed.last_seq + 1, (claimed.claims << 32) + 1);
  auto job = std::make_shared<JobRecord>(stored.id(), claimed.stored.ordinal,
                                         stored.spec(), options_.event_log,
                                         first_seq, stored.tenant());
  job->Restore(stored, nullptr);
  // Adopted before its first event here, so the store publishes them all.
  cluster_->Adopt(job, claimed.claims);
  if (claimed.cancel_requested) {
    job->cancel_requested().store(true);
    job->cancel_flag().store(true);
  }
  if (claimed.claims > 1 || stored.state() != v1::QUEUED) {
    job->MarkQueued(
        "taken over after the replica running it stopped; it runs again "
        "from the start");
  }
  spdlog::info("job={} kind={} claimed claims={}", job->id(),
               KindNameOf(job->spec()), claimed.claims);
  const jobs::JobKind* kind = jobs::FindJobKind(job->spec());
  scheduler_.EnqueueUnbounded(
      job, kind != nullptr && Place(job->spec(), *kind) == v1::GPU);
}

Result<std::shared_ptr<JobRecord>> JobManager::SubmitShared(
    const v1::JobSpec& spec, const std::string& tenant) {
  if (draining_.load()) {
    return Error{ErrorCode::kUnavailable,
                 "this server is shutting down and accepts no new jobs; retry "
                 "on another replica",
                 ""};
  }
  Result<std::uint64_t> ordinal = cluster_->NextOrdinal();
  if (!ordinal.ok()) return StoreUnavailable(ordinal.error());
  auto job = std::make_shared<JobRecord>(NewJobId(), ordinal.value(), spec,
                                         options_.event_log, 1, tenant);
  job->MarkQueued();
  std::vector<v1::JobEvent> first = job->events().ReadAfter(0, 1);
  // Both bound the whole cluster: --max_queued its unfinished jobs,
  // --tenant_max_queued a tenant's queued ones.
  Result<std::string> id = cluster_->InsertQueued(
      job->ToProto(false), ordinal.value(), first[0],
      {.max_unfinished = options_.scheduler.max_queued,
       .max_queued_per_tenant = options_.scheduler.max_queued_per_tenant});
  if (!id.ok()) {
    if (id.error().code == ErrorCode::kResourceExhausted) return id.error();
    return StoreUnavailable(id.error());
  }
  if (id.value() != job->id()) {
    // The idempotency key names an earlier job (of any replica).
    Result<std::shared_ptr<JobRecord>> existing = mirrors_->Get(id.value());
    if (!existing.ok()) return existing.error();
    if (google::protobuf::util::MessageDifferencer::Equals(
            existing.value()->spec(), spec)) {
      return existing;
    }
    return Error{ErrorCode::kAlreadyExists,
                 "idempotency key already used by job " + id.value() +
                     " with a different spec",
                 "spec.idempotency_key"};
  }
  if (options_.metrics != nullptr) {
    options_.metrics->jobs_submitted.WithLabels({KindNameOf(spec)}).Increment();
  }
  spdlog::info("job={} kind={} state=QUEUED priority={}", job->id(),
               KindNameOf(spec), spec.priority());
  mirrors_->Track(job);
  return job;
}

Result<std::shared_ptr<JobRecord>> JobManager::FindShared(
    const std::string& id, const std::string& tenant) const {
  Result<std::shared_ptr<JobRecord>> job = mirrors_->Get(id);
  if (!job.ok()) return job;
  // Another tenant's job answers exactly like a missing one.
  if (job.value()->tenant() != tenant) {
    return Error{ErrorCode::kNotFound, "no job with id '" + id + "'", "id"};
  }
  return job;
}

Result<std::shared_ptr<JobRecord>> JobManager::CancelShared(
    const std::string& id, const std::string& tenant) {
  Result<std::shared_ptr<JobRecord>> found = FindShared(id, tenant);
  if (!found.ok()) return found;
  if (IsTerminal(found.value()->state())) return found;
  if (Status status = cluster_->RequestCancel(id); !status.ok()) {
    return status.error();
  }
  spdlog::info("job={} kind={} cancel requested", id,
               KindNameOf(found.value()->spec()));
  return FindShared(id, tenant);
}

Result<v1::Job> JobManager::DeleteShared(const std::string& id,
                                         const std::string& tenant) {
  Result<std::shared_ptr<JobRecord>> found = FindShared(id, tenant);
  if (!found.ok()) return found.error();
  const v1::Job view = found.value()->ToProto(/*with_result=*/false);
  if (!IsTerminal(view.state())) {
    return Error{ErrorCode::kFailedPrecondition,
                 "job " + id + " is " + v1::JobState_Name(view.state()) +
                     "; only a finished job can be deleted: cancel it "
                     "first, then delete it once it has ended",
                 "id"};
  }
  if (Status status = cluster_->Delete(id); !status.ok()) {
    return status.error();
  }
  spdlog::info("job={} kind={} deleted state={}", id,
               KindNameOf(found.value()->spec()),
               v1::JobState_Name(view.state()));
  return view;
}

Result<v1::ListJobsResponse> JobManager::ListShared(
    const v1::ListJobsRequest& request, std::size_t page_size,
    std::uint64_t before, const std::string& tenant) const {
  v1::ListJobsResponse response;
  std::uint64_t last_returned = 0;
  for (;;) {
    Result<std::vector<std::pair<std::uint64_t, std::string>>> ids =
        cluster_->ListIds(tenant, before, std::max<std::size_t>(page_size, 64));
    if (!ids.ok()) return ids.error();
    if (ids.value().empty()) return response;
    for (const auto& [ordinal, id] : ids.value()) {
      before = ordinal;
      Result<std::optional<StoredJob>> stored = cluster_->Load(id);
      if (!stored.ok()) return stored.error();
      if (!stored.value().has_value()) continue;  // expired meanwhile
      const v1::Job& job = stored.value()->job;
      if (!MatchesListFilter(request, job.state(), job.spec())) continue;
      if (static_cast<std::size_t>(response.jobs_size()) == page_size) {
        response.set_next_page_token(std::to_string(last_returned));
        return response;
      }
      *response.add_jobs() = job;
      last_returned = ordinal;
    }
  }
}

}  // namespace impulse::core
