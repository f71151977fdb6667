// The live system monitor (the book's ch6 RxPY CPU monitor as a service).
//
// A Monitor samples the machine with a SystemSampler every `interval` on its
// own thread (Start/Stop), or whenever the caller calls SampleNow() from its
// own timer. Each sample gets a sequence number, a moving average of the CPU
// load over the last `window` samples (total and per core) and the state of a
// high-load AlertDetector on the averaged total load, and is fanned out to
// every subscriber as a MonitorUpdate.
//
// Fan-out never blocks sampling: every subscriber has a bounded mailbox that
// the sampler only appends to, and one dispatcher thread drains the mailboxes
// round-robin and runs the callbacks. A subscriber that falls behind loses its
// oldest updates (never one that carries an alert event); dropped() counts
// them. Callbacks run on the dispatcher thread, one at a time, so they should
// be quick (e.g. post the update to an executor or a bounded channel); a slow
// callback delays the other subscribers' deliveries but never the sampling.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "server/metrics/alert_detector.h"
#include "server/metrics/moving_average.h"
#include "server/metrics/system_sampler.h"

namespace impulse::metrics {

struct AlertEvent {
  enum class Kind { kRaised, kCleared };
  Kind kind = Kind::kRaised;
  std::chrono::system_clock::time_point time;
  double load = 0.0;       // the averaged total load that caused it
  double threshold = 0.0;  // the raise threshold
  // kRaised: how long the load had been above the threshold;
  // kCleared: how long the alert was active.
  std::chrono::steady_clock::duration duration{};
};

struct MonitorUpdate {
  std::uint64_t seq = 0;  // 1, 2, ... per Monitor
  SystemSample sample;
  double avg_total_load = 0.0;        // moving average of sample.total_load
  std::vector<double> avg_core_load;  // moving average per core
  std::size_t window_samples = 0;     // samples in the window so far
  bool alert_active = false;          // state after this sample
  std::optional<AlertEvent> alert;    // set on the sample that raised/cleared
};

namespace internal {
class MonitorHub;
}

// RAII handle of a subscription: destroying or Reset()ting it unsubscribes.
// After Reset() returns the callback is not running and will not run again
// (unless Reset() is called from inside the callback itself, which is allowed
// and then only guarantees no further calls). May outlive the Monitor.
class Subscription {
 public:
  Subscription() = default;
  ~Subscription() { Reset(); }
  Subscription(Subscription&& other) noexcept;
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  void Reset();
  explicit operator bool() const { return id_ != 0; }
  // Updates dropped from this subscriber's mailbox because it fell behind.
  std::uint64_t dropped() const;

 private:
  friend class Monitor;
  Subscription(std::weak_ptr<internal::MonitorHub> hub, std::uint64_t id)
      : hub_(std::move(hub)), id_(id) {}

  std::weak_ptr<internal::MonitorHub> hub_;
  std::uint64_t id_ = 0;
};

class Monitor {
 public:
  struct Options {
    std::chrono::milliseconds interval{100};  // Start()'s sampling period
    std::size_t window = 10;                  // samples in the moving average
    AlertDetector::Options alert;             // on the averaged total load
    std::size_t max_pending_per_subscriber = 64;
  };
  using Callback = std::function<void(const MonitorUpdate&)>;

  explicit Monitor(Options options, SamplerSources sources = {});
  Monitor() : Monitor(Options{}) {}
  ~Monitor();  // Stop()s and shuts the dispatcher down
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Starts / stops sampling every options().interval on an owned thread.
  // Both idempotent. Exceptions thrown by the sources skip that tick.
  void Start();
  void Stop();
  bool running() const;

  // Takes one sample now, publishes it and returns it. Thread-safe (calls are
  // serialised); usable with or without Start().
  MonitorUpdate SampleNow();

  // Registers `callback` for every update published from now on; the newest
  // update so far (if any) is delivered first. Never called concurrently
  // with itself.
  [[nodiscard]] Subscription Subscribe(Callback callback);

  std::optional<MonitorUpdate> Latest() const;
  std::size_t subscriber_count() const;
  const Options& options() const { return options_; }

 private:
  void Loop();

  const Options options_;
  std::shared_ptr<internal::MonitorHub> hub_;

  std::mutex sample_mu_;  // guards the sampling state below
  SystemSampler sampler_;
  MovingAverage total_avg_;
  std::vector<MovingAverage> core_avg_;
  AlertDetector alert_;
  std::chrono::steady_clock::time_point alert_raised_at_{};
  std::uint64_t seq_ = 0;

  mutable std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool stop_requested_ = false;
  std::thread thread_;
};

}  // namespace impulse::metrics
