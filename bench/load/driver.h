// The part of a load run shared by the gRPC and REST drivers: when to stop
// issuing jobs, and the interface main() drives.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "bench/load/options.h"
#include "bench/load/stats.h"
#include "impulse/v1/jobs.pb.h"

namespace impulse::load {

// The run's clock marks, fixed before any job starts.
struct RunPlan {
  Clock::time_point start;
  Clock::time_point warm_end;  // jobs started before this are not counted
  Clock::time_point stop;      // no job starts at or after this
  Clock::time_point hard_end;  // open calls end here (deadline)
  std::uint64_t max_jobs = 0;  // 0: no count limit

  static RunPlan From(const LoadOptions& options, Clock::time_point start);
};

// Hands out job numbers until the plan's stop time or job count is reached.
// Thread-safe.
class IssueGate {
 public:
  explicit IssueGate(const RunPlan& plan) : plan_(plan) {}
  std::optional<std::uint64_t> Next() {
    if (Clock::now() >= plan_.stop) return std::nullopt;
    const std::uint64_t index = issued_.fetch_add(1, std::memory_order_relaxed);
    if (plan_.max_jobs != 0 && index >= plan_.max_jobs) return std::nullopt;
    return index;
  }
  const RunPlan& plan() const { return plan_; }

 private:
  const RunPlan plan_;
  std::atomic<std::uint64_t> issued_{0};
};

class LoadDriver {
 public:
  virtual ~LoadDriver() = default;
  // Connects (an error message, or "" when ready).
  virtual std::string Connect() = 0;
  // Starts the clients on their own threads and returns.
  virtual void Start(const RunPlan& plan) = 0;
  // Waits until every client has stopped; returns the merged record.
  virtual Recorder Wait() = 0;
  // Watch mode: jobs submitted (one per round); otherwise 0.
  virtual std::uint64_t rounds() const { return 0; }
};

std::unique_ptr<LoadDriver> MakeGrpcDriver(const LoadOptions& options,
                                           const v1::JobSpec& base_spec);
std::unique_ptr<LoadDriver> MakeRestDriver(const LoadOptions& options,
                                           const v1::JobSpec& base_spec);

}  // namespace impulse::load
