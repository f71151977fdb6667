// JobManager's dataset side: the checks Submit makes on the datasets a spec
// names, deleting datasets no job needs, and the result cache.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "server/core/job_manager.h"

namespace impulse::core {
namespace {

bool Uses(const jobs::JobKind& kind, const v1::JobSpec& spec,
          const std::string& name) {
  for (const jobs::DatasetUse& use : kind.DatasetsUsed(spec)) {
    if (use.name == name) return true;
  }
  return false;
}

}  // namespace

std::string JobManager::result_dir() const {
  if (options_.storage_dir.empty()) return "";
  return (std::filesystem::path(options_.storage_dir) / "results").string();
}

DatasetStore& JobManager::StoreFor(const std::string& tenant) const {
  if (tenant.empty()) return *datasets_;
  std::lock_guard lock(tenants_mu_);
  std::unique_ptr<DatasetStore>& store = tenant_stores_[tenant];
  if (store == nullptr) {
    store = std::make_unique<DatasetStore>(DatasetStoreOptions{
        .dir = options_.storage_dir.empty()
                   ? ""
                   : options_.storage_dir + "/tenants/" + tenant + "/datasets",
        .max_dataset_bytes = options_.max_dataset_bytes});
    if (Status status = store->Open(); !status.ok()) {
      spdlog::error("tenant={} datasets unavailable: {}", tenant,
                    status.error().ToString());
    }
  }
  return *store;
}

jobs::IndexRegistry& JobManager::IndexesFor(const std::string& tenant) const {
  if (tenant.empty()) return indexes_;
  std::lock_guard lock(tenants_mu_);
  std::unique_ptr<jobs::IndexRegistry>& registry = tenant_indexes_[tenant];
  if (registry == nullptr) registry = std::make_unique<jobs::IndexRegistry>();
  return *registry;
}

Status JobManager::ValidateDatasets(const v1::JobSpec& spec,
                                    const jobs::JobKind& kind,
                                    const std::string& tenant) const {
  const std::vector<jobs::DatasetUse> uses = kind.DatasetsUsed(spec);
  if (uses.empty()) return {};
  std::vector<v1::Dataset> infos;
  for (const jobs::DatasetUse& use : uses) {
    if (Status status = jobs::ValidateName(use.name, use.field); !status.ok()) {
      return status;
    }
    const DatasetStore& store = StoreFor(tenant);
    if (!store.enabled()) {
      return Error{ErrorCode::kFailedPrecondition,
                   "this server keeps no datasets (started without a data "
                   "directory)",
                   use.field};
    }
    Result<v1::Dataset> found = store.Find(use.name, use.field);
    if (!found.ok()) return found.error();
    infos.push_back(std::move(found.value()));
  }
  return kind.ValidateDatasets(spec, options_.limits, infos);
}

Result<std::vector<std::string>> JobManager::DatasetDigests(
    const v1::JobSpec& spec, const jobs::JobKind& kind,
    const std::string& tenant) const {
  std::vector<std::string> digests;
  for (const jobs::DatasetUse& use : kind.DatasetsUsed(spec)) {
    Result<v1::Dataset> found = StoreFor(tenant).Find(use.name, use.field);
    if (!found.ok()) return found.error();
    digests.push_back(found.value().sha256());
  }
  return digests;
}

std::optional<std::string> JobManager::CacheKey(
    const v1::JobSpec& spec, const jobs::JobKind& kind,
    const std::string& tenant) const {
  if (spec.no_cache() || !kind.Cacheable() || !cache_.enabled()) {
    return std::nullopt;
  }
  Result<std::vector<std::string>> digests = DatasetDigests(spec, kind, tenant);
  if (!digests.ok()) return std::nullopt;
  // Per tenant: a hit would tell one tenant another's job id.
  std::optional<std::string> key = ResultCache::Key(spec, digests.value());
  if (!key.has_value()) return std::nullopt;
  return tenant + '\x1f' + *key;
}

Result<std::shared_ptr<JobRecord>> JobManager::SubmitCachedLocked(
    const v1::JobSpec& spec, const ResultCache::Entry& hit,
    const std::string& tenant) {
  Result<std::shared_ptr<JobRecord>> journaled =
      NewJournaledJobLocked(spec, tenant);
  if (!journaled.ok()) return journaled.error();
  const std::shared_ptr<JobRecord>& job = journaled.value();
  job->MarkSucceeded(hit.result, FullResultBytes(*hit.result), hit.job_id);
  Journal(*job, hit.result.get());
  Index(job);
  RecordFinishedLocked(*job,
                       std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
  CountFinished(*job, 0);
  spdlog::info("job={} kind={} state=SUCCEEDED cached_from={}", job->id(),
               jobs::FindJobKind(spec)->name(), hit.job_id);
  return job;
}

void JobManager::RememberResult(const JobRecord& job,
                                std::shared_ptr<const v1::JobResult> result) {
  if (cluster_ != nullptr) return;  // the cache is per process
  const jobs::JobKind* kind = jobs::FindJobKind(job.spec());
  if (kind == nullptr) return;
  if (std::optional<std::string> key =
          CacheKey(job.spec(), *kind, job.tenant())) {
    cache_.Insert(*key, ResultCache::Entry{std::move(result), job.id()});
  }
}

Result<v1::Dataset> JobManager::DeleteDataset(const std::string& name,
                                              const std::string& tenant) {
  if (Status status = jobs::ValidateName(name, "name"); !status.ok()) {
    return status.error();
  }
  std::lock_guard lock(mu_);
  for (const auto& [ordinal, job] : by_ordinal_) {
    const v1::JobState state = job->state();
    if (IsTerminal(state) || job->tenant() != tenant) continue;
    const jobs::JobKind* kind = jobs::FindJobKind(job->spec());
    if (kind != nullptr && Uses(*kind, job->spec(), name)) {
      return Error{ErrorCode::kFailedPrecondition,
                   "dataset '" + name + "' is in use by job " + job->id() +
                       " (" + v1::JobState_Name(state) +
                       "); cancel the job or wait for it to finish",
                   "name"};
    }
  }
  return StoreFor(tenant).Delete(name);
}

}  // namespace impulse::core
