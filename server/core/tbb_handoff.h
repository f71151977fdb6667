// Runs work inside a oneTBB task_arena in a way ThreadSanitizer can follow.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <functional>

namespace impulse::core {

// arena.execute(fn). When no slot is free, TBB runs `fn` on one of its
// workers while the caller waits. Debian's libtbb is not instrumented, so TSan
// cannot see that TBB orders the call before `fn` and `fn` before the return:
// everything written on either side would be reported as racing. Under
// --config=tsan this file is compiled without instrumentation (.bazelrc) and
// marks both hand-offs itself (__tsan_release / __tsan_acquire); in other
// builds it is exactly arena.execute.
void ExecuteInArena(tbb::task_arena& arena, const std::function<void()>& fn);

}  // namespace impulse::core
