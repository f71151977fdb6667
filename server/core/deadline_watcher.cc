#include "server/core/deadline_watcher.h"

#include <pthread.h>

namespace impulse::core {

DeadlineWatcher::~DeadlineWatcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

DeadlineWatcher::Handle DeadlineWatcher::Add(Clock::time_point deadline,
                                             std::atomic<bool>* fired,
                                             std::atomic<bool>* cancel) {
  std::lock_guard lock(mu_);
  const Handle handle = next_handle_++;
  const bool nearest =
      entries_.empty() || deadline < entries_.begin()->first.first;
  entries_.emplace(std::make_pair(deadline, handle), Entry{fired, cancel});
  by_handle_.emplace(handle, deadline);
  if (!thread_.joinable()) {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "deadlines");
      Loop();
    });
  } else if (nearest) {
    cv_.notify_all();
  }
  return handle;
}

void DeadlineWatcher::Remove(Handle handle) {
  // Firing happens under mu_, so once the lock is ours no firing is under way.
  std::lock_guard lock(mu_);
  auto it = by_handle_.find(handle);
  if (it == by_handle_.end()) return;  // already fired
  entries_.erase(std::make_pair(it->second, handle));
  by_handle_.erase(it);
}

std::size_t DeadlineWatcher::pending() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void DeadlineWatcher::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (entries_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const Clock::time_point next = entries_.begin()->first.first;
    if (Clock::now() < next) {
      cv_.wait_until(lock, next);
      continue;
    }
    auto first = entries_.begin();
    first->second.fired->store(true);
    first->second.cancel->store(true);
    by_handle_.erase(first->first.second);
    entries_.erase(first);
  }
}

}  // namespace impulse::core
