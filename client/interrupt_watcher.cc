#include "client/interrupt_watcher.h"

#include <pthread.h>

#include <utility>

namespace impulse::cli {
namespace {

sigset_t InterruptSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

InterruptWatcher::InterruptWatcher(std::function<void(int)> on_interrupt)
    : on_interrupt_(std::move(on_interrupt)) {
  const sigset_t set = InterruptSet();
  pthread_sigmask(SIG_BLOCK, &set, &old_mask_);
  thread_ = std::thread([this] { Loop(); });
}

InterruptWatcher::~InterruptWatcher() {
  stopping_.store(true);
  // The thread takes this SIGINT with sigwait (it is blocked everywhere), or
  // finds it pending if it has not reached sigwait yet.
  pthread_kill(thread_.native_handle(), SIGINT);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void InterruptWatcher::Loop() {
  const sigset_t set = InterruptSet();
  for (int count = 1;; ++count) {
    int signal_number = 0;
    if (sigwait(&set, &signal_number) != 0) continue;
    if (stopping_.load()) return;
    on_interrupt_(count);
  }
}

}  // namespace impulse::cli
