// `table`: filter, group-by with aggregates and an inner or left join over
// CSV datasets (book ch3, ch8: pandas / Dask DataFrame). Order: join, then
// filters, then group-by. Column names are checked on Submit against the
// datasets' headers; content errors (malformed rows, non-numeric values in a
// summed column) fail the job naming the dataset, row and column.
#pragma once

#include "server/jobs/job_kind.h"

namespace impulse::jobs {

class TableJob final : public JobKind {
 public:
  std::string_view name() const override { return "table"; }
  Status Validate(const v1::JobSpec& spec, const Limits& limits) const override;
  std::vector<DatasetUse> DatasetsUsed(const v1::JobSpec& spec) const override;
  Status ValidateDatasets(const v1::JobSpec& spec, const Limits& limits,
                          std::span<const v1::Dataset> datasets) const override;
  Result<v1::JobResult> Run(const v1::JobSpec& spec, v1::Device device,
                            JobContext& context) const override;
};

}  // namespace impulse::jobs
