// A job's append-only event log. Every event gets the next sequence number, so
// a watcher resumes from any point with "events after seq N". Progress events
// are coalesced: one arriving within `coalesce_window` of the newest progress
// event replaces it (under a new sequence number), so a fast producer never
// grows the log faster than ~1/window and a slow watcher simply skips to the
// newest state. The log is bounded: past `max_events` the oldest progress
// events are dropped; state changes are always kept.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "impulse/v1/jobs.pb.h"
#include "server/core/waiter_list.h"

namespace impulse::core {

class EventLog {
 public:
  struct Options {
    std::size_t max_events = 1024;
    std::chrono::milliseconds coalesce_window{50};
  };

  explicit EventLog(Options options, std::uint64_t first_seq = 1);
  EventLog() : EventLog(Options{}) {}

  // Stamps `event` with its sequence number and time, appends it and wakes the
  // watchers. A STATE_CHANGED event to a terminal state closes the log.
  std::uint64_t Append(v1::JobEvent event);
  // Appends an event that already has its sequence number and time (a copy
  // of another replica's log, in cluster mode): no coalescing, and one not
  // newer than the last is ignored. A terminal event closes the log.
  void AppendStored(v1::JobEvent event);

  // Events are immutable once appended and shared by every reader.
  using SharedEvent = std::shared_ptr<const v1::JobEvent>;

  // Up to `max` events with seq > after_seq, oldest first (copies).
  std::vector<v1::JobEvent> ReadAfter(std::uint64_t after_seq,
                                      std::size_t max) const;
  // The same into `out` (cleared first) without copying an event: a watcher
  // that keeps `out` between reads allocates nothing per event.
  void ReadAfter(std::uint64_t after_seq, std::size_t max,
                 std::vector<SharedEvent>* out) const;

  std::uint64_t last_seq() const {
    return last_seq_.load(std::memory_order_acquire);
  }
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  // Completes when an event with seq > after_seq exists, the log is closed,
  // or `*abandoned` is true (after WakeAll). Never completes inline.
  template <typename CompletionToken>
  auto AsyncWaitAfter(std::uint64_t after_seq,
                      const std::atomic<bool>* abandoned,
                      CompletionToken&& token) {
    return waiters_.AsyncWait(
        [this, after_seq, abandoned] {
          return last_seq() <= after_seq && !closed() &&
                 !(abandoned != nullptr && abandoned->load());
        },
        std::forward<CompletionToken>(token));
  }

  // Completes when the log is closed (its terminal event is in), or on
  // WakeAll (callers re-check), or at once when `*abandoned` is already true.
  // Unlike AsyncWaitAfter it is not woken by every event, only at the end.
  // Never completes inline.
  template <typename CompletionToken>
  auto AsyncWaitClosed(const std::atomic<bool>* abandoned,
                       CompletionToken&& token) {
    return end_waiters_.AsyncWait(
        [this, abandoned] {
          return !closed() && !(abandoned != nullptr && abandoned->load());
        },
        std::forward<CompletionToken>(token));
  }

  // Wakes every waiter so it re-checks its condition (e.g. its RPC ended).
  void WakeAll() {
    waiters_.WakeAll();
    end_waiters_.WakeAll();
  }

 private:
  const Options options_;
  mutable std::mutex mu_;
  std::deque<SharedEvent> events_;
  std::uint64_t next_seq_;
  std::chrono::steady_clock::time_point last_progress_time_{};
  std::atomic<std::uint64_t> last_seq_;
  std::atomic<bool> closed_{false};
  WaiterList waiters_;
  WaiterList end_waiters_;  // AsyncWaitClosed
};

bool IsTerminal(v1::JobState state);

}  // namespace impulse::core
