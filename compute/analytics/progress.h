// Progress reporting shared by the analytics kernels.
//
// Every long-running analytics call takes a RunControl (cancel flag, target
// chunk time) and an optional ProgressCallback. Work is done in waves of
// parallel chunks; between waves, on the calling thread and never concurrently
// with itself, the kernel checks the cancel flag and calls the callback with
// (done, total) in the unit the function documents (rows, bytes, documents).
// A cancelled call returns an Error with ErrorCode::kCancelled.
#pragma once

#include <cstdint>
#include <functional>

#include "compute/common/status.h"

namespace impulse::analytics {

using ProgressCallback =
    std::function<void(std::uint64_t done, std::uint64_t total)>;

inline Error CancelledError() {
  return Error{ErrorCode::kCancelled, "cancelled", ""};
}

}  // namespace impulse::analytics
