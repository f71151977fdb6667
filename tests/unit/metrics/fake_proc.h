// A fake /proc/stat whose cores advance by a chosen busy fraction per step,
// and a fake steady clock, for sampler and monitor tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace impulse::metrics::testing {

class FakeProcStat {
 public:
  explicit FakeProcStat(int cores) : busy_(cores, 0), idle_(cores, 0) {}

  // Every core spends `fraction` of the next 100 ticks busy.
  void Advance(double fraction) {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < busy_.size(); ++i) {
      const auto b = static_cast<std::uint64_t>(fraction * 100 + 0.5);
      busy_[i] += b;
      idle_[i] += 100 - b;
    }
  }
  // Core i spends fractions[i] of the next 100 ticks busy.
  void Advance(const std::vector<double>& fractions) {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < busy_.size(); ++i) {
      const auto b = static_cast<std::uint64_t>(fractions[i] * 100 + 0.5);
      busy_[i] += b;
      idle_[i] += 100 - b;
    }
  }

  std::string Text() const {
    std::lock_guard lock(mu_);
    std::uint64_t busy = 0, idle = 0;
    std::string cores;
    for (std::size_t i = 0; i < busy_.size(); ++i) {
      busy += busy_[i];
      idle += idle_[i];
      cores += "cpu" + std::to_string(i) + " " + std::to_string(busy_[i]) +
               " 0 0 " + std::to_string(idle_[i]) + " 0 0 0 0 0 0\n";
    }
    return "cpu  " + std::to_string(busy) + " 0 0 " + std::to_string(idle) +
           " 0 0 0 0 0 0\n" + cores + "intr 0\nctxt 0\n";
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::uint64_t> busy_, idle_;
};

class FakeClock {
 public:
  std::chrono::steady_clock::time_point Now() const {
    std::lock_guard lock(mu_);
    return now_;
  }
  void Advance(std::chrono::steady_clock::duration d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  std::chrono::steady_clock::time_point now_{std::chrono::seconds(1000)};
};

inline constexpr const char* kFakeMeminfo =
    "MemTotal:       8000000 kB\n"
    "MemFree:        1000000 kB\n"
    "MemAvailable:   6000000 kB\n";

}  // namespace impulse::metrics::testing
