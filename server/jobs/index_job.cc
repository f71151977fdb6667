#include "server/jobs/index_job.h"

#include "compute/analytics/inverted_index.h"
#include "server/jobs/analytics_progress.h"
#include "server/jobs/dataset_formats.h"

namespace impulse::jobs {
namespace {

constexpr const char* kField = "spec.index.dataset";

}  // namespace

Status IndexJob::Validate(const v1::JobSpec& spec, const Limits& limits) const {
  return ValidateName(spec.index().index_name(), "spec.index.index_name");
}

std::vector<DatasetUse> IndexJob::DatasetsUsed(const v1::JobSpec& spec) const {
  return {{kField, spec.index().dataset()}};
}

Status IndexJob::ValidateDatasets(const v1::JobSpec& spec, const Limits& limits,
                                  std::span<const v1::Dataset> datasets) const {
  if (Status status = RequireFormat(datasets[0], {v1::TEXT}, kField);
      !status.ok()) {
    return status;
  }
  if (datasets[0].size_bytes() == 0) {
    return Error::InvalidArgument(
        kField, "dataset '" + datasets[0].name() + "' is empty");
  }
  return {};
}

Result<v1::JobResult> IndexJob::Run(const v1::JobSpec& spec, v1::Device device,
                                    JobContext& context) const {
  IndexRegistry* registry = context.indexes();
  if (registry == nullptr) {
    return Error{ErrorCode::kFailedPrecondition,
                 "this server keeps no named indexes", ""};
  }
  Result<std::shared_ptr<const DatasetContent>> dataset =
      context.OpenDataset(spec.index().dataset());
  if (!dataset.ok()) return SpecError(dataset.error(), "spec.index.");
  Result<analytics::InvertedIndex> built =
      analytics::InvertedIndex::Build(dataset.value()->bytes, context.control(),
                                      ProgressReporter(context, "documents"));
  if (!built.ok()) {
    return DataError(built.error(), kField, dataset.value()->info.name());
  }
  auto named = std::make_shared<NamedIndex>();
  named->name = spec.index().index_name();
  named->job_id = context.job_id();
  named->dataset = dataset.value()->info;
  named->index = std::move(built.value());

  v1::JobResult result;
  v1::IndexResult* out = result.mutable_index();
  out->set_index_name(named->name);
  out->set_documents(named->index.num_documents());
  out->set_vocabulary(named->index.vocabulary_size());
  out->set_total_terms(named->index.total_terms());
  out->set_dataset(named->dataset.name());
  out->set_sha256(named->dataset.sha256());
  registry->Put(std::move(named));
  return result;
}

}  // namespace impulse::jobs
