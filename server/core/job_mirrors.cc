#include "server/core/job_mirrors.h"

#include <spdlog/spdlog.h>

#include <utility>
#include <vector>

namespace impulse::core {
namespace {

using Clock = std::chrono::steady_clock;

// Longest wait of one follower read: bounds how late a copy added meanwhile
// starts to be followed.
constexpr std::chrono::milliseconds kFollowWait{100};

// More than the store keeps of one job's events.
constexpr std::size_t kMaxStoredEvents = 1 << 14;

}  // namespace

JobMirrors::JobMirrors(ClusterStore& store, EventLog::Options log_options,
                       std::chrono::milliseconds idle_drop)
    : store_(store),
      log_options_(log_options),
      idle_drop_(idle_drop),
      follower_([this] { Follow(); }) {}

JobMirrors::~JobMirrors() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  follower_.join();
}

Result<std::shared_ptr<JobRecord>> JobMirrors::Get(const std::string& id) {
  Result<std::optional<StoredJob>> loaded = store_.Load(id);
  if (!loaded.ok()) return loaded.error();
  if (!loaded.value().has_value()) {
    return Error{ErrorCode::kNotFound, "no job with id '" + id + "'", "id"};
  }
  StoredJob& stored = *loaded.value();
  std::shared_ptr<const v1::JobResult> result;
  if (stored.result.has_value()) {
    result = std::make_shared<const v1::JobResult>(std::move(*stored.result));
  }
  {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(id); it != entries_.end()) {
      it->second.used = Clock::now();
      it->second.job->Refresh(stored.job, std::move(result));
      return it->second.job;
    }
  }
  auto job = std::make_shared<JobRecord>(id, stored.ordinal, stored.job.spec(),
                                         log_options_, 1, stored.job.tenant());
  job->Refresh(stored.job, std::move(result));
  Result<std::vector<v1::JobEvent>> events =
      store_.ReadEvents(id, 0, kMaxStoredEvents);
  if (!events.ok()) return events.error();
  for (v1::JobEvent& event : events.value()) {
    job->events().AppendStored(std::move(event));
  }
  std::lock_guard lock(mu_);
  // Another caller may have made a copy meanwhile: one copy per job.
  auto [it, added] = entries_.try_emplace(id, Entry{job, Clock::now()});
  if (added) cv_.notify_all();
  return it->second.job;
}

void JobMirrors::Track(const std::shared_ptr<JobRecord>& job) {
  {
    std::lock_guard lock(mu_);
    entries_.try_emplace(job->id(), Entry{job, Clock::now()});
  }
  cv_.notify_all();
}

void JobMirrors::WakeAll() {
  std::lock_guard lock(mu_);
  for (auto& [id, entry] : entries_) entry.job->events().WakeAll();
}

void JobMirrors::Follow() {
  std::vector<std::pair<std::string, std::uint64_t>> after;
  std::unordered_map<std::string, std::shared_ptr<JobRecord>> followed;
  for (;;) {
    after.clear();
    followed.clear();
    {
      std::unique_lock lock(mu_);
      const Clock::time_point now = Clock::now();
      for (auto it = entries_.begin(); it != entries_.end();) {
        Entry& entry = it->second;
        // Dropped once only this map holds it and it has been idle a while.
        if (entry.job.use_count() == 1 && now - entry.used > idle_drop_) {
          it = entries_.erase(it);
          continue;
        }
        if (!entry.job->events().closed()) {
          after.emplace_back(it->first, entry.job->events().last_seq());
          followed.emplace(it->first, entry.job);
        }
        ++it;
      }
      if (stop_) return;
      if (after.empty()) {
        cv_.wait_for(lock, kFollowWait);
        continue;
      }
    }
    Result<std::vector<v1::JobEvent>> events =
        store_.WaitEvents(after, kFollowWait);
    if (!events.ok()) {
      // The store logs the outage once; wait a little before trying again.
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kFollowWait, [this] { return stop_; });
      continue;
    }
    for (v1::JobEvent& event : events.value()) {
      auto it = followed.find(event.job_id());
      if (it != followed.end()) it->second->events().AppendStored(event);
    }
  }
}

}  // namespace impulse::core
