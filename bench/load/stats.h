// What the load generator records per job and how it summarises it: exact
// percentiles over every sample (nearest rank), errors counted by code name.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace impulse::load {

using Clock = std::chrono::steady_clock;

// Latencies in nanoseconds.
struct LatencySummary {
  std::uint64_t count = 0;
  double mean_ns = 0;
  std::int64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, max_ns = 0, min_ns = 0;
};

// Sorts `samples` in place and summarises them.
LatencySummary Summarize(std::vector<std::int64_t>& samples);

// One thread's record of finished jobs. Only its own thread writes it; the
// vectors are reserved up front so recording does not allocate per job.
class Recorder {
 public:
  explicit Recorder(std::size_t reserve = 1 << 16);

  // A job that ended as expected. Times are since the run's start; jobs
  // started before `counted_from` (the warm-up) are left out.
  void Ok(Clock::duration start, Clock::duration submitted,
          Clock::duration ended);
  // A job or call that failed, by code name ("UNAVAILABLE", "JOB_FAILED",
  // "HTTP_503").
  void Error(const std::string& code, Clock::duration start);
  // A call still open when the run's hard end came (not an error).
  void CutOff() { ++cut_off_; }
  void Events(std::uint64_t n) { events_ += n; }

  void set_counted_from(Clock::duration from) { counted_from_ = from; }

  // Adds `other`'s samples and counts into this one.
  void Merge(const Recorder& other);

  std::vector<std::int64_t>& submit_ns() { return submit_ns_; }
  std::vector<std::int64_t>& end_to_end_ns() { return end_to_end_ns_; }
  std::uint64_t ok() const { return end_to_end_ns_.size(); }
  std::uint64_t warmup_jobs() const { return warmup_; }
  std::uint64_t errors() const;
  const std::map<std::string, std::uint64_t>& errors_by_code() const {
    return errors_;
  }
  std::uint64_t cut_off() const { return cut_off_; }
  std::uint64_t events() const { return events_; }
  // Start of the first and end of the last counted job, since the run start.
  Clock::duration first_start() const { return first_start_; }
  Clock::duration last_end() const { return last_end_; }

 private:
  Clock::duration counted_from_{};
  std::vector<std::int64_t> submit_ns_;
  std::vector<std::int64_t> end_to_end_ns_;
  std::map<std::string, std::uint64_t> errors_;
  std::uint64_t warmup_ = 0;
  std::uint64_t cut_off_ = 0;
  std::uint64_t events_ = 0;
  Clock::duration first_start_ = Clock::duration::max();
  Clock::duration last_end_ = Clock::duration::zero();
};

}  // namespace impulse::load
