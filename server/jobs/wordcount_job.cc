#include "server/jobs/wordcount_job.h"

#include "compute/analytics/wordcount.h"
#include "server/jobs/analytics_progress.h"
#include "server/jobs/dataset_formats.h"

namespace impulse::jobs {
namespace {

constexpr const char* kField = "spec.wordcount.dataset";

}  // namespace

Status WordCountJob::Validate(const v1::JobSpec& spec,
                              const Limits& limits) const {
  return {};
}

std::vector<DatasetUse> WordCountJob::DatasetsUsed(
    const v1::JobSpec& spec) const {
  return {{kField, spec.wordcount().dataset()}};
}

Status WordCountJob::ValidateDatasets(
    const v1::JobSpec& spec, const Limits& limits,
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

Result<v1::JobResult> WordCountJob::Run(const v1::JobSpec& spec,
                                        v1::Device device,
                                        JobContext& context) const {
  Result<std::shared_ptr<const DatasetContent>> dataset =
      context.OpenDataset(spec.wordcount().dataset());
  if (!dataset.ok()) return SpecError(dataset.error(), "spec.wordcount.");
  if (Status status = RequireFormat(dataset.value()->info, {v1::TEXT}, kField);
      !status.ok()) {
    return status.error();
  }
  analytics::WordCountOptions options;
  options.top_k = spec.wordcount().top_k();
  Result<analytics::WordCountResult> counted =
      analytics::CountWords(dataset.value()->bytes, options, context.control(),
                            ProgressReporter(context, "bytes"));
  if (!counted.ok()) {
    return DataError(counted.error(), kField, dataset.value()->info.name());
  }
  v1::JobResult result;
  v1::WordCountResult* out = result.mutable_wordcount();
  out->set_total_words(counted.value().total_words);
  out->set_distinct_words(counted.value().distinct_words);
  out->mutable_words()->Reserve(static_cast<int>(counted.value().words.size()));
  for (analytics::WordCount& word : counted.value().words) {
    v1::WordFrequency* w = out->add_words();
    w->set_word(std::move(word.word));
    w->set_count(word.count);
  }
  return result;
}

}  // namespace impulse::jobs
