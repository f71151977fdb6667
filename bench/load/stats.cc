#include "bench/load/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace impulse::load {
namespace {

// Nearest rank: the smallest sample with at least q of the samples at or
// below it.
std::int64_t Percentile(const std::vector<std::int64_t>& sorted, double q) {
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::size_t>(std::ceil(q * n));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

}  // namespace

LatencySummary Summarize(std::vector<std::int64_t>& samples) {
  LatencySummary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.count = samples.size();
  s.mean_ns = std::accumulate(samples.begin(), samples.end(), 0.0) /
              static_cast<double>(samples.size());
  s.min_ns = samples.front();
  s.p50_ns = Percentile(samples, 0.50);
  s.p90_ns = Percentile(samples, 0.90);
  s.p99_ns = Percentile(samples, 0.99);
  s.max_ns = samples.back();
  return s;
}

Recorder::Recorder(std::size_t reserve) {
  submit_ns_.reserve(reserve);
  end_to_end_ns_.reserve(reserve);
}

void Recorder::Ok(Clock::duration start, Clock::duration submitted,
                  Clock::duration ended) {
  if (start < counted_from_) {
    ++warmup_;
    return;
  }
  submit_ns_.push_back(
      std::chrono::duration_cast<std::chrono::nanoseconds>(submitted - start)
          .count());
  end_to_end_ns_.push_back(
      std::chrono::duration_cast<std::chrono::nanoseconds>(ended - start)
          .count());
  first_start_ = std::min(first_start_, start);
  last_end_ = std::max(last_end_, ended);
}

void Recorder::Error(const std::string& code, Clock::duration start) {
  if (start < counted_from_) {
    ++warmup_;
    return;
  }
  ++errors_[code];
}

std::uint64_t Recorder::errors() const {
  std::uint64_t n = 0;
  for (const auto& entry : errors_) n += entry.second;
  return n;
}

void Recorder::Merge(const Recorder& other) {
  submit_ns_.insert(submit_ns_.end(), other.submit_ns_.begin(),
                    other.submit_ns_.end());
  end_to_end_ns_.insert(end_to_end_ns_.end(), other.end_to_end_ns_.begin(),
                        other.end_to_end_ns_.end());
  for (const auto& [code, n] : other.errors_) errors_[code] += n;
  warmup_ += other.warmup_;
  cut_off_ += other.cut_off_;
  events_ += other.events_;
  first_start_ = std::min(first_start_, other.first_start_);
  last_end_ = std::max(last_end_, other.last_end_);
}

}  // namespace impulse::load
