// Hands work to a oneTBB task_arena in a way ThreadSanitizer can follow.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <functional>

namespace impulse::core {

// arena.enqueue(fn). Debian's libtbb is not instrumented, so TSan cannot see
// that TBB orders the enqueue before the worker runs the task: everything
// written before the call would be reported as racing with `fn`. Under
// --config=tsan this file is compiled without instrumentation (.bazelrc) and
// marks the hand-off itself (__tsan_release before, __tsan_acquire in the
// task, before `fn` runs); in other builds it is exactly arena.enqueue.
void EnqueueTask(tbb::task_arena& arena, std::function<void()> fn);

}  // namespace impulse::core
