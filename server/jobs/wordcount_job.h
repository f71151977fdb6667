// `wordcount`: word frequencies of a TEXT dataset, MapReduce style (book
// ch8); the top_k most frequent words or all of them.
#pragma once

#include "server/jobs/job_kind.h"

namespace impulse::jobs {

class WordCountJob final : public JobKind {
 public:
  std::string_view name() const override { return "wordcount"; }
  Status Validate(const v1::JobSpec& spec, const Limits& limits) const override;
  std::vector<DatasetUse> DatasetsUsed(const v1::JobSpec& spec) const override;
  Status ValidateDatasets(const v1::JobSpec& spec, const Limits& limits,
                          std::span<const v1::Dataset> datasets) const override;
  Result<v1::JobResult> Run(const v1::JobSpec& spec, v1::Device device,
                            JobContext& context) const override;
};

}  // namespace impulse::jobs
