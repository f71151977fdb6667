// `distance_matrix`: Euclidean distances of every pair of points of a points
// dataset (book ch3, ch5). Small matrices (under 1 MiB) are kept in the
// result; larger ones are written block by block to a file under the
// server's result directory and streamed back in row blocks by GetResult.
#pragma once

#include "server/jobs/job_kind.h"

namespace impulse::jobs {

class DistanceMatrixJob final : public JobKind {
 public:
  std::string_view name() const override { return "distance_matrix"; }
  // 2-D points run on the GPU when asked for (device GPU). AUTO stays on the
  // CPU: the matrix has to reach host memory (and a file) either way, and on
  // an H200 host the GPU path is no faster end to end (README, GPU).
  bool HasGpuPath() const override { return true; }
  Status Validate(const v1::JobSpec& spec, const Limits& limits) const override;
  std::vector<DatasetUse> DatasetsUsed(const v1::JobSpec& spec) const override;
  Status ValidateDatasets(const v1::JobSpec& spec, const Limits& limits,
                          std::span<const v1::Dataset> datasets) const override;
  Result<v1::JobResult> Run(const v1::JobSpec& spec, v1::Device device,
                            JobContext& context) const override;
};

}  // namespace impulse::jobs
