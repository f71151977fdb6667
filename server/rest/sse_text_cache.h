// Formats each job event as SSE text once, however many streams send it.
// Protobuf's JSON printer is slow; with 1,000 watchers of one job, formatting
// per stream would cost 1,000 times the work of formatting once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "impulse/v1/jobs.pb.h"
#include "server/core/job_record.h"

namespace impulse::rest {

// The texts of one job's events, by sequence number (an event never changes
// once appended). Thread-safe; bounded to the newest `kMaxEntries` events.
class JobEventTexts {
 public:
  static constexpr std::size_t kMaxEntries = 2048;
  std::shared_ptr<const std::string> Text(const v1::JobEvent& event);

 private:
  std::mutex mu_;
  std::map<std::uint64_t, std::shared_ptr<const std::string>> texts_;
};

// One JobEventTexts per watched job, shared by that job's streams and freed
// with the last of them.
class SseTextCache {
 public:
  std::shared_ptr<JobEventTexts> For(const core::JobRecord& job);

 private:
  std::mutex mu_;
  std::unordered_map<const core::JobRecord*, std::weak_ptr<JobEventTexts>>
      jobs_;
};

}  // namespace impulse::rest
