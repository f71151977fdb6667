#include "server/core/event_log.h"

#include <algorithm>

#include "server/core/clock.h"

namespace impulse::core {

bool IsTerminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED ||
         state == v1::CANCELLED;
}

EventLog::EventLog(Options options, std::uint64_t first_seq)
    : options_(options), next_seq_(first_seq), last_seq_(first_seq - 1) {}

std::uint64_t EventLog::Append(v1::JobEvent event) {
  const auto now = std::chrono::steady_clock::now();
  const bool progress = event.type() == v1::PROGRESS;
  const bool terminal =
      event.type() == v1::STATE_CHANGED && IsTerminal(event.state());
  // Built outside the lock: one allocation, the event's fields moved in.
  auto shared = std::make_shared<v1::JobEvent>(std::move(event));
  std::uint64_t seq;
  {
    std::lock_guard lock(mu_);
    if (closed_.load(std::memory_order_relaxed)) return last_seq();
    seq = next_seq_++;
    shared->set_seq(seq);
    *shared->mutable_time() = NowTimestamp();
    const bool coalesce = progress && !events_.empty() &&
                          events_.back()->type() == v1::PROGRESS &&
                          now - last_progress_time_ < options_.coalesce_window;
    if (coalesce) {
      events_.back() = std::move(shared);
    } else {
      if (progress) last_progress_time_ = now;
      events_.push_back(std::move(shared));
      if (events_.size() > options_.max_events) {
        auto oldest_progress = std::find_if(
            events_.begin(), events_.end(),
            [](const SharedEvent& e) { return e->type() == v1::PROGRESS; });
        if (oldest_progress != events_.end()) events_.erase(oldest_progress);
      }
    }
    last_seq_.store(seq, std::memory_order_release);
    if (terminal) closed_.store(true, std::memory_order_release);
  }
  waiters_.WakeAll();
  if (terminal) end_waiters_.WakeAll();
  return seq;
}

void EventLog::AppendStored(v1::JobEvent event) {
  const bool terminal =
      event.type() == v1::STATE_CHANGED && IsTerminal(event.state());
  auto shared = std::make_shared<v1::JobEvent>(std::move(event));
  {
    std::lock_guard lock(mu_);
    if (closed_.load(std::memory_order_relaxed) ||
        shared->seq() <= last_seq_.load(std::memory_order_relaxed)) {
      return;
    }
    const std::uint64_t seq = shared->seq();
    events_.push_back(std::move(shared));
    if (events_.size() > options_.max_events) {
      auto oldest_progress = std::find_if(
          events_.begin(), events_.end(),
          [](const SharedEvent& e) { return e->type() == v1::PROGRESS; });
      if (oldest_progress != events_.end()) events_.erase(oldest_progress);
    }
    next_seq_ = seq + 1;
    last_seq_.store(seq, std::memory_order_release);
    if (terminal) closed_.store(true, std::memory_order_release);
  }
  waiters_.WakeAll();
  if (terminal) end_waiters_.WakeAll();
}

namespace {

template <typename Deque>
auto FirstAfter(const Deque& events, std::uint64_t after_seq) {
  return std::upper_bound(
      events.begin(), events.end(), after_seq,
      [](std::uint64_t seq, const auto& e) { return seq < e->seq(); });
}

}  // namespace

std::vector<v1::JobEvent> EventLog::ReadAfter(std::uint64_t after_seq,
                                              std::size_t max) const {
  std::vector<v1::JobEvent> out;
  std::lock_guard lock(mu_);
  for (auto it = FirstAfter(events_, after_seq);
       it != events_.end() && out.size() < max; ++it) {
    out.push_back(**it);
  }
  return out;
}

void EventLog::ReadAfter(std::uint64_t after_seq, std::size_t max,
                         std::vector<SharedEvent>* out) const {
  out->clear();
  std::lock_guard lock(mu_);
  for (auto it = FirstAfter(events_, after_seq);
       it != events_.end() && out->size() < max; ++it) {
    out->push_back(*it);
  }
}

}  // namespace impulse::core
