// `index`: an inverted index over a TEXT dataset (one document per line,
// book ch2), kept in memory under a name for the Query and Complete RPCs.
// Not cached: building the index is the point (it registers the name).
#pragma once

#include "server/jobs/job_kind.h"

namespace impulse::jobs {

class IndexJob final : public JobKind {
 public:
  std::string_view name() const override { return "index"; }
  Status Validate(const v1::JobSpec& spec, const Limits& limits) const override;
  std::vector<DatasetUse> DatasetsUsed(const v1::JobSpec& spec) const override;
  Status ValidateDatasets(const v1::JobSpec& spec, const Limits& limits,
                          std::span<const v1::Dataset> datasets) const override;
  bool Cacheable() const override { return false; }
  Result<v1::JobResult> Run(const v1::JobSpec& spec, v1::Device device,
                            JobContext& context) const override;
};

}  // namespace impulse::jobs
