#include "server/jobs/distance_matrix_job.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "compute/analytics/distance_matrix.h"
#include "compute/gpu/gpu.h"
#include "server/jobs/analytics_progress.h"
#include "server/jobs/dataset_formats.h"

namespace impulse::jobs {
namespace {

constexpr const char* kField = "spec.distance_matrix.dataset";
// Matrices up to this size stay in the result (and ride inline in Get).
constexpr std::uint64_t kInlineBytes = 1'000'000;

Error IoError(const std::string& what, const std::string& path) {
  return Error{ErrorCode::kInternal,
               what + " '" + path + "': " + std::strerror(errno), ""};
}

// Writes the matrix rows to `path` as they are computed.
class RowFile {
 public:
  explicit RowFile(std::string path) : path_(std::move(path)) {}
  ~RowFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!kept_) ::unlink(path_.c_str());
  }
  Status Create() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return IoError("cannot create result file", path_);
    return {};
  }
  Status Append(std::span<const double> values) {
    const char* data = reinterpret_cast<const char*>(values.data());
    std::size_t left = values.size_bytes();
    while (left > 0) {
      const ssize_t n = ::write(fd_, data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return IoError("cannot write result file", path_);
      data += n;
      left -= static_cast<std::size_t>(n);
    }
    return {};
  }
  Status Keep(const std::string& final_path) {
    if (::fsync(fd_) != 0) return IoError("cannot sync result file", path_);
    ::close(fd_);
    fd_ = -1;
    if (::rename(path_.c_str(), final_path.c_str()) != 0) {
      return IoError("cannot store result file", final_path);
    }
    kept_ = true;
    return {};
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool kept_ = false;
};

}  // namespace

Status DistanceMatrixJob::Validate(const v1::JobSpec& spec,
                                   const Limits& limits) const {
  return {};  // the dataset name is checked with the datasets
}

std::vector<DatasetUse> DistanceMatrixJob::DatasetsUsed(
    const v1::JobSpec& spec) const {
  return {{kField, spec.distance_matrix().dataset()}};
}

Status DistanceMatrixJob::ValidateDatasets(
    const v1::JobSpec& spec, const Limits& limits,
    std::span<const v1::Dataset> datasets) const {
  const v1::Dataset& points = datasets[0];
  if (Status status =
          RequireFormat(points, {v1::POINTS_F64, v1::POINTS_CSV}, kField);
      !status.ok()) {
    return status;
  }
  if (points.rows() == 0) {
    return Error::InvalidArgument(
        kField, "dataset '" + points.name() + "' has no points");
  }
  if (points.rows() > limits.max_distance_matrix_points) {
    return Error::InvalidArgument(
        kField, "dataset '" + points.name() + "' has " +
                    std::to_string(points.rows()) +
                    " points; a distance matrix is limited to " +
                    std::to_string(limits.max_distance_matrix_points) +
                    " (--max_distance_matrix_points); knn finds nearest "
                    "neighbours without the whole matrix");
  }
  return {};
}

Result<v1::JobResult> DistanceMatrixJob::Run(const v1::JobSpec& spec,
                                             v1::Device device,
                                             JobContext& context) const {
  Result<std::shared_ptr<const DatasetContent>> dataset =
      context.OpenDataset(spec.distance_matrix().dataset());
  if (!dataset.ok()) return SpecError(dataset.error(), "spec.distance_matrix.");
  Result<std::unique_ptr<Points>> points = LoadPoints(*dataset.value(), kField);
  if (!points.ok()) return points.error();
  const Points& p = *points.value();
  const std::uint64_t n = p.size();

  v1::JobResult result;
  v1::DistanceMatrixResult* out = result.mutable_distance_matrix();
  out->set_n(n);
  out->set_dims(static_cast<std::uint32_t>(p.dims));
  auto progress = ProgressReporter(context, "rows");

  if (device == v1::GPU && p.dims != 2) {
    return Error{ErrorCode::kFailedPrecondition,
                 "the GPU distance matrix takes 2-D points; dataset '" +
                     dataset.value()->info.name() + "' has " +
                     std::to_string(p.dims) + " dims (use AUTO or CPU)",
                 "spec.device"};
  }
  // Every row block to `on_block`, on the device the job was placed on.
  auto stream_rows =
      [&](const analytics::DistanceBlockCallback& on_block) -> Status {
    if (device == v1::GPU) {
      return gpu::StreamDistanceMatrix(p.values, p.dims, /*block_rows=*/0,
                                       context.control(), on_block, progress);
    }
    return analytics::StreamDistanceMatrix(p.values, p.dims, /*block_rows=*/0,
                                           context.control(), on_block,
                                           progress);
  };

  if (n * n * sizeof(double) <= kInlineBytes && device == v1::GPU) {
    Status streamed = stream_rows(
        [out](std::size_t, std::size_t, std::span<const double> rows) {
          out->mutable_values()->Add(rows.begin(), rows.end());
          return Status{};
        });
    if (!streamed.ok()) {
      return DataError(streamed.error(), kField, dataset.value()->info.name());
    }
    out->set_rows(n);
    return result;
  }
  if (n * n * sizeof(double) <= kInlineBytes) {
    Result<analytics::DistanceMatrix> matrix = analytics::ComputeDistanceMatrix(
        p.values, p.dims, context.control(), progress);
    if (!matrix.ok())
      return DataError(matrix.error(), kField, dataset.value()->info.name());
    out->set_rows(n);
    out->mutable_values()->Add(matrix.value().values().begin(),
                               matrix.value().values().end());
    return result;
  }

  const std::string dir = context.result_dir();
  if (dir.empty()) {
    return Error{ErrorCode::kFailedPrecondition,
                 "this server has no result directory for large matrices", ""};
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error{ErrorCode::kInternal,
                 "cannot create '" + dir + "': " + ec.message(), ""};
  }
  const std::string key = context.job_id() + ".f64";
  const std::string final_path = (std::filesystem::path(dir) / key).string();
  RowFile file(final_path + ".part");
  if (Status status = file.Create(); !status.ok()) return status.error();
  Status streamed = stream_rows(
      [&file](std::size_t, std::size_t, std::span<const double> rows) {
        return file.Append(rows);
      });
  if (!streamed.ok()) {
    return DataError(streamed.error(), kField, dataset.value()->info.name());
  }
  if (Status status = file.Keep(final_path); !status.ok()) {
    return status.error();
  }
  out->set_storage_key(key);
  return result;
}

}  // namespace impulse::jobs
