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
  std::uint64_t seq;
  {
    std::lock_guard lock(mu_);
    if (closed_.load(std::memory_order_relaxed)) return last_seq();
    seq = next_seq_++;
    event.set_seq(seq);
    *event.mutable_time() = NowTimestamp();
    const bool coalesce = progress && !events_.empty() &&
                          events_.back().type() == v1::PROGRESS &&
                          now - last_progress_time_ < options_.coalesce_window;
    if (coalesce) {
      events_.back() = std::move(event);
    } else {
      if (progress) last_progress_time_ = now;
      events_.push_back(std::move(event));
      if (events_.size() > options_.max_events) {
        auto oldest_progress = std::find_if(
            events_.begin(), events_.end(),
            [](const auto& e) { return e.type() == v1::PROGRESS; });
        if (oldest_progress != events_.end()) events_.erase(oldest_progress);
      }
    }
    last_seq_.store(seq, std::memory_order_release);
    if (terminal) closed_.store(true, std::memory_order_release);
  }
  waiters_.WakeAll();
  return seq;
}

std::vector<v1::JobEvent> EventLog::ReadAfter(std::uint64_t after_seq,
                                              std::size_t max) const {
  std::vector<v1::JobEvent> out;
  std::lock_guard lock(mu_);
  auto it = std::upper_bound(
      events_.begin(), events_.end(), after_seq,
      [](std::uint64_t seq, const v1::JobEvent& e) { return seq < e.seq(); });
  for (; it != events_.end() && out.size() < max; ++it) out.push_back(*it);
  return out;
}

}  // namespace impulse::core
