// Progress events for the analytics kinds: an analytics::ProgressCallback
// that reports fraction (mapped into [from, to] of the whole job) and a
// counter of the kernel's unit (rows, bytes, documents, points).
#pragma once

#include <string>

#include "compute/analytics/progress.h"
#include "server/jobs/job_kind.h"

namespace impulse::jobs {

inline analytics::ProgressCallback ProgressReporter(JobContext& context,
                                                    std::string counter,
                                                    double from = 0.0,
                                                    double to = 1.0) {
  return [&context, counter = std::move(counter), from, to](
             std::uint64_t done, std::uint64_t total) {
    v1::JobEvent event;
    event.set_type(v1::PROGRESS);
    const double part =
        total == 0 ? 1.0
                   : static_cast<double>(done) / static_cast<double>(total);
    event.set_fraction(from + (to - from) * part);
    (*event.mutable_counters())[counter] = done;
    (*event.mutable_counters())[counter + "_total"] = total;
    context.ReportProgress(std::move(event));
  };
}

// An error from an analytics kernel, with its field placed under the spec
// ("k" -> "spec.knn.k"); cancellation passes through unchanged.
inline Error SpecError(Error error, const std::string& prefix) {
  if (error.code == ErrorCode::kCancelled) return error;
  if (!error.field.empty()) error.field = prefix + error.field;
  return error;
}

// A content error (malformed rows, bad values) found while running: the job
// fails with it, naming the spec field that named the dataset.
inline Error DataError(const Error& error, const std::string& field,
                       const std::string& dataset) {
  if (error.code != ErrorCode::kInvalidArgument) return error;
  return Error::InvalidArgument(field,
                                "dataset '" + dataset + "': " + error.message);
}

}  // namespace impulse::jobs
