// The kernels' parallel loops: oneTBB, in a form ThreadSanitizer can follow.
//
// Debian's libtbb is not instrumented, so TSan cannot see that a loop's
// caller happens before each of its tasks and every task before the loop
// returns: whatever a task on a stolen thread writes would be reported as a
// race with the caller. In normal builds these are exactly the oneTBB calls;
// under TSan the loops go through compute/common/parallel.cc, which
// --config=tsan compiles without instrumentation and which marks both
// hand-offs itself (see .bazelrc), so the kernels' own memory stays checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <type_traits>

#if defined(IMPULSE_TSAN)
#include <algorithm>
#include <atomic>
#else
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>
#include <tbb/parallel_reduce.h>
#include <tbb/parallel_sort.h>
#include <tbb/partitioner.h>
#endif

namespace impulse::parallel {

// kAuto lets oneTBB size the pieces (at least `grain` items each); kEvenly
// splits down to `grain` items, for loops whose pieces are already balanced.
enum class Split { kAuto, kEvenly };

namespace internal {
// Under TSan: the loops below, with the hand-offs marked.
void VisibleForRanges(
    std::size_t begin, std::size_t end, std::size_t grain, Split split,
    const std::function<void(std::size_t, std::size_t)>& body);
void VisibleInvoke(const std::function<void()>& f,
                   const std::function<void()>& g);
}  // namespace internal

// Calls body(b, e) for disjoint subranges covering [begin, end), in parallel.
template <typename Index, typename Body>
void ForRanges(std::type_identity_t<Index> begin, Index end,
               std::type_identity_t<Index> grain, Body&& body,
               Split split = Split::kAuto) {
#if defined(IMPULSE_TSAN)
  internal::VisibleForRanges(
      begin, end, grain, split, [&](std::size_t b, std::size_t e) {
        body(static_cast<Index>(b), static_cast<Index>(e));
      });
#else
  const tbb::blocked_range<Index> range(begin, end, grain);
  const auto each = [&](const tbb::blocked_range<Index>& r) {
    body(r.begin(), r.end());
  };
  if (split == Split::kEvenly) {
    tbb::parallel_for(range, each, tbb::simple_partitioner());
  } else {
    tbb::parallel_for(range, each);
  }
#endif
}

// Calls body(i) for every i in [begin, end), in parallel.
template <typename Index, typename Body>
void ForEach(std::type_identity_t<Index> begin, Index end, Body&& body) {
#if defined(IMPULSE_TSAN)
  ForRanges(begin, end, Index{1}, [&](Index b, Index e) {
    for (Index i = b; i != e; ++i) body(i);
  });
#else
  tbb::parallel_for(begin, end, body);
#endif
}

// Runs f() and g(), possibly in parallel.
template <typename F, typename G>
void Invoke(F&& f, G&& g) {
#if defined(IMPULSE_TSAN)
  internal::VisibleInvoke(f, g);
#else
  tbb::parallel_invoke(f, g);
#endif
}

// The sum of sum_of(b, e) over disjoint subranges covering [begin, end).
template <typename Index, typename SumOf>
std::uint64_t SumRanges(std::type_identity_t<Index> begin, Index end,
                        std::type_identity_t<Index> grain, SumOf&& sum_of) {
#if defined(IMPULSE_TSAN)
  // Relaxed: a lock here would order the pieces after one another and hide
  // races between them from TSan.
  std::atomic<std::uint64_t> total{0};
  ForRanges(begin, end, grain, [&](Index b, Index e) {
    total.fetch_add(sum_of(b, e), std::memory_order_relaxed);
  });
  return total.load(std::memory_order_relaxed);
#else
  return tbb::parallel_reduce(
      tbb::blocked_range<Index>(begin, end, grain), std::uint64_t{0},
      [&](const tbb::blocked_range<Index>& r, std::uint64_t sum) {
        return sum + sum_of(r.begin(), r.end());
      },
      std::plus<std::uint64_t>());
#endif
}

// Sorts [first, last) by `less`. Under TSan sequentially: a sort's tasks
// only read what the caller wrote.
template <typename Iterator, typename Less>
void Sort(Iterator first, Iterator last, Less less) {
#if defined(IMPULSE_TSAN)
  std::sort(first, last, less);
#else
  tbb::parallel_sort(first, last, less);
#endif
}

}  // namespace impulse::parallel
