// The cluster job store on Redis (impulsed --cluster_redis=redis://H:P).
//
// Keys (prefix "impulse:"):
//   job:{id}           hash: job (v1.Job bytes with spec), tenant, ordinal,
//                      state, result (v1.JobResult bytes), claims, owner,
//                      entry (queue entry id), last_seq, cancel, idem
//   events:{id}        stream of the job's events; entry id "<seq>-0", field
//                      e = v1.JobEvent bytes, so XREAD resumes after a seq
//   lease:{id}         the replica that runs the job, with a TTL (the lease)
//   queue              stream of job ids; consumer group "impulse", one
//                      consumer per replica (XREADGROUP, XAUTOCLAIM)
//   jobs:{tenant}      zset of job ids by ordinal (List)
//   idem:{tenant}\x1f{key}  idempotency key -> job id
//   ordinal            counter
// Every write that must only come from the lease holder is a Lua script
// (redis_scripts.h).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/cluster/redis_connection.h"
#include "server/core/cluster_store.h"

namespace impulse::cluster {

struct RedisStoreOptions {
  std::string url;  // redis://HOST:PORT
  // A replica that stops renewing (it died) loses its jobs after this long.
  std::chrono::milliseconds lease{5000};
  // Longest a call may take before Redis counts as down.
  std::chrono::milliseconds timeout{2000};
  // This replica's consumer name; empty = host name, pid and a random part.
  std::string replica;
  // Events kept per job (approximately, like the in-memory log's bound).
  std::size_t max_events = 1024;
  // Connections for calls from request and job threads.
  std::size_t pool_size = 4;
};

class RedisStore final : public core::ClusterStore {
 public:
  // Connects and creates the queue's consumer group. An unreachable Redis
  // is kUnavailable naming --cluster_redis.
  static Result<std::unique_ptr<RedisStore>> Open(RedisStoreOptions options);
  ~RedisStore() override;

  const std::string& replica() const { return replica_; }

  // JobStore.
  Status Insert(const v1::Job& job, std::uint64_t ordinal) override;
  Status Update(const v1::Job& job, const v1::JobResult* result) override;
  Status Delete(const std::string& id) override;
  Status DeleteMany(const std::vector<std::string>& ids) override;
  // Nothing: the jobs live in Redis, not in one replica's memory.
  Result<std::vector<core::StoredJob>> LoadAll() override;
  std::uint64_t boot() const override { return 1; }
  const std::string& path() const override { return description_; }

  // ClusterStore.
  bool healthy() const override { return health_.up(); }
  Result<std::uint64_t> NextOrdinal() override;
  Result<std::string> InsertQueued(const v1::Job& job, std::uint64_t ordinal,
                                   const v1::JobEvent& queued,
                                   const core::InsertLimits& limits) override;
  Result<std::optional<core::StoredJob>> Load(const std::string& id) override;
  Result<std::vector<v1::JobEvent>> ReadEvents(const std::string& id,
                                               std::uint64_t after_seq,
                                               std::size_t max) override;
  Result<std::vector<v1::JobEvent>> WaitEvents(
      const std::vector<std::pair<std::string, std::uint64_t>>& after,
      std::chrono::milliseconds wait) override;
  Result<std::vector<core::ClaimedJob>> Claim(
      std::size_t max, std::chrono::milliseconds wait) override;
  void Adopt(std::shared_ptr<core::JobRecord> job,
             std::uint64_t claims) override;
  void Heartbeat() override;
  void ReleaseAll() override;
  Status RequestCancel(const std::string& id) override;
  Result<std::vector<std::pair<std::uint64_t, std::string>>> ListIds(
      const std::string& tenant, std::uint64_t before,
      std::size_t max) override;
  void SetRetention(std::chrono::milliseconds retention) override {
    retention_ms_ = retention.count();
  }

 private:
  // A job this replica runs.
  struct Owned {
    std::shared_ptr<core::JobRecord> job;
    std::uint64_t claims = 0;
    std::uint64_t published_seq = 0;  // newest event in Redis
    std::mutex mu;                    // one publisher at a time
    // A terminal state Redis was down for; the heartbeat retries it.
    std::unique_ptr<v1::Job> final_job;           // guarded by mu
    std::unique_ptr<v1::JobResult> final_result;  // guarded by mu
  };

  RedisStore(RedisStoreOptions options, RedisAddress address);
  RedisConnection& Pooled();
  Result<RedisReply> Run(const std::vector<std::string>& args);
  // Publishes the owned job's new events (up to, not including, a terminal
  // event unless `job` is given) and, with `job`, its state and result.
  // Returns false when the lease is lost.
  Result<bool> Publish(Owned& owned, const v1::Job* job,
                       const v1::JobResult* result);
  Result<std::optional<core::ClaimedJob>> ClaimEntry(const std::string& entry,
                                                     const std::string& id);
  std::shared_ptr<Owned> FindOwned(const std::string& id);
  void Disown(const std::string& id);

  const RedisStoreOptions options_;
  const RedisAddress address_;
  const std::string description_;
  std::string replica_;
  RedisHealth health_;
  std::vector<std::unique_ptr<RedisConnection>> pool_;
  std::atomic<std::size_t> next_pooled_{0};
  RedisConnection claim_connection_;   // Claim's blocking reads
  RedisConnection follow_connection_;  // WaitEvents' blocking reads
  std::atomic<std::int64_t> retention_ms_{0};
  std::chrono::steady_clock::time_point next_takeover_scan_{};
  std::mutex owned_mu_;
  std::unordered_map<std::string, std::shared_ptr<Owned>> owned_;
};

}  // namespace impulse::cluster
