#include "server/jobs/knn_job.h"

#include "compute/analytics/knn.h"
#include "server/jobs/analytics_progress.h"
#include "server/jobs/dataset_formats.h"

namespace impulse::jobs {
namespace {

constexpr const char* kDataset = "spec.knn.dataset";
constexpr const char* kQueries = "spec.knn.query_dataset";
constexpr const char* kK = "spec.knn.k";

// Kernel fields ("points", "queries", "k") as spec fields.
Error SpecField(Error error) {
  if (error.field == "points" || error.field == "dims") {
    error.field = kDataset;
  } else if (error.field == "queries") {
    error.field = kQueries;
  } else if (error.field == "k") {
    error.field = kK;
  }
  return error;
}

}  // namespace

Status KnnJob::Validate(const v1::JobSpec& spec, const Limits& limits) const {
  const v1::KnnSpec& knn = spec.knn();
  if (knn.k() == 0) return Error::InvalidArgument(kK, "must be at least 1");
  if (knn.k() > limits.max_knn_k) {
    return Error::InvalidArgument(kK, std::to_string(knn.k()) +
                                          " is over the limit of " +
                                          std::to_string(limits.max_knn_k));
  }
  if (!knn.query_dataset().empty() && knn.include_self()) {
    return Error::InvalidArgument(
        "spec.knn.include_self",
        "only applies to all-points mode (no query_dataset)");
  }
  return {};
}

std::vector<DatasetUse> KnnJob::DatasetsUsed(const v1::JobSpec& spec) const {
  std::vector<DatasetUse> uses = {{kDataset, spec.knn().dataset()}};
  if (!spec.knn().query_dataset().empty()) {
    uses.push_back({kQueries, spec.knn().query_dataset()});
  }
  return uses;
}

Status KnnJob::ValidateDatasets(const v1::JobSpec& spec, const Limits& limits,
                                std::span<const v1::Dataset> datasets) const {
  const v1::KnnSpec& knn = spec.knn();
  const v1::Dataset& points = datasets[0];
  if (Status status =
          RequireFormat(points, {v1::POINTS_F64, v1::POINTS_CSV}, kDataset);
      !status.ok()) {
    return status;
  }
  if (points.rows() == 0) {
    return Error::InvalidArgument(
        kDataset, "dataset '" + points.name() + "' has no points");
  }
  const bool query_mode = datasets.size() > 1;
  const std::uint64_t limit =
      query_mode || knn.include_self() ? points.rows() : points.rows() - 1;
  if (knn.k() > limit) {
    return Error::InvalidArgument(
        kK,
        "k = " + std::to_string(knn.k()) + " is larger than the " +
            std::to_string(limit) +
            (query_mode || knn.include_self() ? " points" : " other points") +
            " of dataset '" + points.name() + "'");
  }
  if (query_mode) {
    const v1::Dataset& queries = datasets[1];
    if (Status status =
            RequireFormat(queries, {v1::POINTS_F64, v1::POINTS_CSV}, kQueries);
        !status.ok()) {
      return status;
    }
    if (queries.rows() == 0) {
      return Error::InvalidArgument(
          kQueries, "dataset '" + queries.name() + "' has no points");
    }
    if (queries.dims() != points.dims()) {
      return Error::InvalidArgument(
          kQueries, "dataset '" + queries.name() + "' has " +
                        std::to_string(queries.dims()) +
                        " dimensions but dataset '" + points.name() + "' has " +
                        std::to_string(points.dims()));
    }
  }
  return {};
}

Result<v1::JobResult> KnnJob::Run(const v1::JobSpec& spec, v1::Device device,
                                  JobContext& context) const {
  const v1::KnnSpec& knn = spec.knn();
  Result<std::shared_ptr<const DatasetContent>> dataset =
      context.OpenDataset(knn.dataset());
  if (!dataset.ok()) return SpecError(dataset.error(), "spec.knn.");
  Result<std::unique_ptr<Points>> points =
      LoadPoints(*dataset.value(), kDataset);
  if (!points.ok()) return points.error();

  analytics::KnnOptions options;
  options.k = knn.k();
  options.include_self = knn.include_self();
  Result<analytics::KnnResult> found = Error{ErrorCode::kInternal, "", ""};
  if (knn.query_dataset().empty()) {
    found = analytics::KNearestNeighbors(
        points.value()->values, points.value()->dims, options,
        context.control(), ProgressReporter(context, "points"));
  } else {
    Result<std::shared_ptr<const DatasetContent>> query_dataset =
        context.OpenDataset(knn.query_dataset());
    if (!query_dataset.ok()) {
      return Error{query_dataset.error().code, query_dataset.error().message,
                   kQueries};
    }
    Result<std::unique_ptr<Points>> queries =
        LoadPoints(*query_dataset.value(), kQueries);
    if (!queries.ok()) return queries.error();
    if (queries.value()->dims != points.value()->dims) {
      return Error::InvalidArgument(kQueries,
                                    "dimensions differ from the dataset's");
    }
    found = analytics::KNearestNeighbors(
        points.value()->values, points.value()->dims, queries.value()->values,
        options, context.control(), ProgressReporter(context, "queries"));
  }
  if (!found.ok()) return SpecField(found.error());

  analytics::KnnResult& neighbours = found.value();
  v1::JobResult result;
  v1::KnnResult* out = result.mutable_knn();
  out->set_k(static_cast<std::uint32_t>(neighbours.k));
  out->set_num_queries(neighbours.num_queries);
  out->set_query_offset(0);
  out->set_queries(neighbours.num_queries);
  out->mutable_indices()->Add(neighbours.indices.begin(),
                              neighbours.indices.end());
  out->mutable_distances()->Add(neighbours.distances.begin(),
                                neighbours.distances.end());
  return result;
}

}  // namespace impulse::jobs
