#include "server/core/waiter_list.h"

namespace impulse::core {

void WaiterList::WakeAll() {
  std::vector<std::unique_ptr<Handler>> woken;
  {
    std::lock_guard lock(mu_);
    woken.swap(waiters_);
  }
  for (auto& handler : woken) handler->Post();
}

}  // namespace impulse::core
