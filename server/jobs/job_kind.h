// One job kind (particles, pi, ...): validates its part of a JobSpec and runs
// it on the CPU or GPU, reporting progress through a JobContext. Kinds hold no
// state; the registry maps a JobSpec's `kind` to its JobKind.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "compute/common/run_control.h"
#include "compute/common/status.h"
#include "impulse/v1/jobs.pb.h"
#include "server/jobs/dataset_access.h"

namespace impulse::jobs {

// Size limits that keep one job from taking the whole server; set by flags.
struct Limits {
  std::uint64_t max_particles = 10'000'000;
  std::uint64_t max_steps = 100'000'000;
  std::uint64_t max_particle_steps = 10'000'000'000'000;  // ~1 h at 2e9/s
  std::uint64_t max_pi_samples = 10'000'000'000'000;
  // Points of a distance_matrix job (the N x N result is stored: 3.2 GB at
  // 20,000).
  std::uint64_t max_distance_matrix_points = 20'000;
  std::uint64_t max_knn_k = 1'000;
  // Rows of a table job's result (a filter without group_by can be large).
  std::uint64_t max_table_result_rows = 1'000'000;
};

// What a running job sees of the server.
class JobContext {
 public:
  virtual ~JobContext() = default;
  // Cancel flag and chunking hints for the kernels.
  virtual const RunControl& control() const = 0;
  // Appends a PROGRESS event; the kind fills fraction, counters and partial.
  // Cheap to call every chunk: the event log coalesces.
  virtual void ReportProgress(v1::JobEvent event) = 0;

  // The running job's id.
  virtual std::string job_id() const { return ""; }
  // A dataset the spec names (see JobKind::DatasetsUsed), mapped read-only;
  // kNotFound when it does not exist.
  virtual Result<std::shared_ptr<const DatasetContent>> OpenDataset(
      std::string_view name) const {
    return Error{ErrorCode::kNotFound, "no dataset '" + std::string(name) + "'",
                 "dataset"};
  }
  // Where in-memory named indexes live; nullptr when the server has none.
  virtual IndexRegistry* indexes() const { return nullptr; }
  // A directory for result files too large to keep in memory ("" = none).
  virtual std::string result_dir() const { return ""; }
  // The server's size limits.
  virtual Limits limits() const { return {}; }
};

class JobKind {
 public:
  virtual ~JobKind() = default;
  virtual std::string_view name() const = 0;
  // Checks the kind's own sub-message; errors name the field
  // ("spec.pi.samples").
  virtual Status Validate(const v1::JobSpec& spec,
                          const Limits& limits) const = 0;
  // Whether a GPU implementation exists and the job is big enough to gain
  // from it (AUTO placement).
  virtual bool PrefersGpu(const v1::JobSpec& spec) const { return false; }
  virtual bool HasGpuPath() const { return false; }
  // Datasets the spec names, each with the field that names it; the server
  // checks they exist (kNotFound naming the field) and keeps them from being
  // deleted while the job is queued or running.
  virtual std::vector<DatasetUse> DatasetsUsed(const v1::JobSpec& spec) const {
    return {};
  }
  // Checks the spec against the metadata of its datasets (format, size), one
  // per DatasetsUsed entry in the same order. Called after Validate.
  virtual Status ValidateDatasets(const v1::JobSpec& spec, const Limits& limits,
                                  std::span<const v1::Dataset> datasets) const {
    return {};
  }
  // Whether the same spec on the same dataset contents always gives the same
  // result, so the result cache may answer it.
  virtual bool Cacheable() const { return true; }
  // Runs the job to completion; an Error with kCancelled when cancelled.
  virtual Result<v1::JobResult> Run(const v1::JobSpec& spec, v1::Device device,
                                    JobContext& context) const = 0;
};

// The kind for spec.kind, or nullptr when none is set.
const JobKind* FindJobKind(const v1::JobSpec& spec);

}  // namespace impulse::jobs
