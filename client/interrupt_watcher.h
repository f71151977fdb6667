// Ctrl-C handling without work in a signal handler: SIGINT is blocked in
// every thread and a dedicated thread takes it with sigwait, then runs
// ordinary code (an RPC, printing).
#ifndef IMPULSE_CLIENT_INTERRUPT_WATCHER_H_
#define IMPULSE_CLIENT_INTERRUPT_WATCHER_H_

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace impulse::cli {

class InterruptWatcher {
 public:
  // Blocks SIGINT in the calling thread, so construct this before any other
  // thread starts (gRPC's included): they inherit the mask. `on_interrupt`
  // runs on the watcher thread with the count of Ctrl-Cs so far (1, 2, ...).
  explicit InterruptWatcher(std::function<void(int count)> on_interrupt);
  // Stops the watcher thread and restores the signal mask.
  ~InterruptWatcher();

  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

 private:
  void Loop();

  std::function<void(int)> on_interrupt_;
  sigset_t old_mask_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace impulse::cli

#endif  // IMPULSE_CLIENT_INTERRUPT_WATCHER_H_
