#include "server/core/tbb_handoff.h"

// IMPULSE_TSAN_HANDOFF is set for this file by --config=tsan, which also
// compiles it without -fsanitize=thread: TBB's task object, built here and
// read by the worker in TBB's template code, is then invisible to TSan,
// while the calls below still record the hand-offs.
#if defined(IMPULSE_TSAN_HANDOFF)
#include <sanitizer/tsan_interface.h>
#endif

namespace impulse::core {
namespace {

#if defined(IMPULSE_TSAN_HANDOFF)
// One synchronisation object for every hand-off: a release joins, so an
// acquire sees everything done before any release so far.
char handoff;
void Release() { __tsan_release(&handoff); }
void Acquire() { __tsan_acquire(&handoff); }
#else
void Release() {}
void Acquire() {}
#endif

}  // namespace

void ExecuteInArena(tbb::task_arena& arena, const std::function<void()>& fn) {
  Release();
  arena.execute([&fn] {
    Acquire();
    fn();
    Release();
  });
  Acquire();
}

}  // namespace impulse::core
