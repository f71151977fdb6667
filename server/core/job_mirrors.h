// Cluster mode: local copies of jobs as the shared store has them, so the
// front-ends answer Get, Watch, Cancel and GetResult for a job whichever
// replica runs it, through the same JobRecord and EventLog they use for a
// single process. One follower thread tails the store's event streams of
// every copy in use into its log (sequence numbers kept), so a watcher
// resumes with after_seq on any replica. A copy no one has used for a while
// is dropped.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "server/core/cluster_store.h"
#include "server/core/event_log.h"
#include "server/core/job_record.h"

namespace impulse::core {

class JobMirrors {
 public:
  JobMirrors(ClusterStore& store, EventLog::Options log_options,
             std::chrono::milliseconds idle_drop = std::chrono::seconds(10));
  ~JobMirrors();

  // The job as the store has it now, with its stored events; followed from
  // here on. kNotFound when the store has no such job, kUnavailable when the
  // store cannot be reached.
  Result<std::shared_ptr<JobRecord>> Get(const std::string& id);
  // A job this replica just inserted, whose log already holds what the
  // store holds (its first event): followed from there.
  void Track(const std::shared_ptr<JobRecord>& job);
  // Wakes every watcher parked on a copy's log (shutdown).
  void WakeAll();

 private:
  struct Entry {
    std::shared_ptr<JobRecord> job;
    std::chrono::steady_clock::time_point used;
  };
  void Follow();

  ClusterStore& store_;
  const EventLog::Options log_options_;
  const std::chrono::milliseconds idle_drop_;
  std::mutex mu_;
  std::condition_variable cv_;  // a copy to follow was added, or stop
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
  bool stop_ = false;                               // guarded by mu_
  std::thread follower_;  // last: started once everything above exists
};

}  // namespace impulse::core
