#include "compute/common/parallel.h"

// IMPULSE_TSAN_HANDOFF is set for this file by --config=tsan, which also
// compiles it without -fsanitize=thread: oneTBB's task objects, built here
// and run by its workers, are then invisible to TSan, while the calls below
// record the hand-offs between a loop's caller and its tasks.
#if defined(IMPULSE_TSAN_HANDOFF)
#include <sanitizer/tsan_interface.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>
#include <tbb/partitioner.h>

#include <memory>

namespace impulse::parallel::internal {
namespace {

// One pair per call, on the heap: TSan forgets a freed address's history, so
// a later loop cannot inherit this one's edges.
struct HandOffs {
  char start = 0;  // the caller's work so far -> every task
  char done = 0;   // every task -> the caller, after the loop
};

}  // namespace

void VisibleForRanges(
    std::size_t begin, std::size_t end, std::size_t grain, Split split,
    const std::function<void(std::size_t, std::size_t)>& body) {
  const auto sync = std::make_unique<HandOffs>();
  __tsan_release(&sync->start);
  const tbb::blocked_range<std::size_t> range(begin, end, grain);
  const auto each = [&](const tbb::blocked_range<std::size_t>& r) {
    __tsan_acquire(&sync->start);
    body(r.begin(), r.end());
    __tsan_release(&sync->done);
  };
  if (split == Split::kEvenly) {
    tbb::parallel_for(range, each, tbb::simple_partitioner());
  } else {
    tbb::parallel_for(range, each);
  }
  __tsan_acquire(&sync->done);
}

void VisibleInvoke(const std::function<void()>& f,
                   const std::function<void()>& g) {
  const auto sync = std::make_unique<HandOffs>();
  __tsan_release(&sync->start);
  const auto visible = [&sync](const std::function<void()>& fn) {
    __tsan_acquire(&sync->start);
    fn();
    __tsan_release(&sync->done);
  };
  tbb::parallel_invoke([&] { visible(f); }, [&] { visible(g); });
  __tsan_acquire(&sync->done);
}

}  // namespace impulse::parallel::internal
#endif
