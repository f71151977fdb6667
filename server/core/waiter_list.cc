#include "server/core/waiter_list.h"

namespace impulse::core {

void WaiterList::WakeAll() {
  // Swapped with the list under the lock: the list gets this thread's empty
  // vector with its capacity, so parking again does not allocate it anew.
  // (Post never runs a handler inline, so this cannot re-enter.)
  thread_local std::vector<std::unique_ptr<Handler>> woken;
  {
    std::lock_guard lock(mu_);
    woken.swap(waiters_);
  }
  for (auto& handler : woken) handler->Post();
  woken.clear();
}

}  // namespace impulse::core
