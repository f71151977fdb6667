// How a running kernel observes cancellation and reports progress. Kernels work
// in chunks (a few milliseconds each) and call back between chunks, from one
// thread at a time, so cancel is seen quickly and progress costs nothing in the
// hot loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace impulse {

enum class RunOutcome { kCompleted, kCancelled };

struct RunControl {
  // When non-null and true, the kernel stops at the next chunk boundary.
  const std::atomic<bool>* cancel = nullptr;
  // Target wall time of one chunk; kernels size chunks from their own cost
  // model.
  double chunk_seconds = 0.005;

  bool cancelled() const {
    return cancel != nullptr && cancel->load(std::memory_order_relaxed);
  }
};

}  // namespace impulse
