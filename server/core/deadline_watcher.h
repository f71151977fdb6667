// Stops jobs that run past their timeout (JobSpec.timeout). One thread sleeps
// until the nearest deadline; at a job's deadline it sets the job's `fired`
// flag, then its cancel flag, which the kernels already poll between chunks
// (compute/common/run_control.h), so a job stops within a chunk and its
// runner sees `fired` to tell a timeout from a cancel.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace impulse::core {

class DeadlineWatcher {
 public:
  using Clock = std::chrono::steady_clock;
  using Handle = std::uint64_t;

  DeadlineWatcher() = default;
  // Joins the thread; every deadline must have been removed.
  ~DeadlineWatcher();
  DeadlineWatcher(const DeadlineWatcher&) = delete;
  DeadlineWatcher& operator=(const DeadlineWatcher&) = delete;

  // At `deadline`, stores true into `*fired` and then `*cancel`. Both must
  // stay alive until Remove returns. The thread starts on the first Add.
  Handle Add(Clock::time_point deadline, std::atomic<bool>* fired,
             std::atomic<bool>* cancel);
  // Forgets a deadline; once it returns, the flags are never touched again
  // (a deadline firing at that moment has finished firing).
  void Remove(Handle handle);

  std::size_t pending() const;

 private:
  struct Entry {
    std::atomic<bool>* fired;
    std::atomic<bool>* cancel;
  };
  void Loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // By deadline, then handle (unique).
  std::map<std::pair<Clock::time_point, Handle>, Entry> entries_;
  std::map<Handle, Clock::time_point> by_handle_;
  Handle next_handle_ = 1;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace impulse::core
