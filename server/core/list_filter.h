// The filter of ListJobs (state and labels), shared by the in-process list
// and the cluster's list over Redis so both answer alike.
#pragma once

#include "impulse/v1/jobs.pb.h"

namespace impulse::core {

// True when a job in `state` with `spec` passes the request's filters: the
// state when one is given, and every requested label with its exact value.
inline bool MatchesListFilter(const v1::ListJobsRequest& request,
                              v1::JobState state, const v1::JobSpec& spec) {
  if (request.state() != v1::JOB_STATE_UNSPECIFIED &&
      state != request.state()) {
    return false;
  }
  for (const auto& [key, value] : request.labels()) {
    auto label = spec.labels().find(key);
    if (label == spec.labels().end() || label->second != value) return false;
  }
  return true;
}

}  // namespace impulse::core
