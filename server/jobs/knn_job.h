// `knn`: the k nearest neighbours of every point of a points dataset, or of
// every point of a second (query) dataset, with a KD-tree (book ch5).
#pragma once

#include "server/jobs/job_kind.h"

namespace impulse::jobs {

class KnnJob final : public JobKind {
 public:
  std::string_view name() const override { return "knn"; }
  Status Validate(const v1::JobSpec& spec, const Limits& limits) const override;
  std::vector<DatasetUse> DatasetsUsed(const v1::JobSpec& spec) const override;
  Status ValidateDatasets(const v1::JobSpec& spec, const Limits& limits,
                          std::span<const v1::Dataset> datasets) const override;
  Result<v1::JobResult> Run(const v1::JobSpec& spec, v1::Device device,
                            JobContext& context) const override;
};

}  // namespace impulse::jobs
