// The result cache (book: functools.lru_cache / joblib.Memory): results of
// deterministic jobs by a key of the job's kind, spec (without the fields
// that do not change the result: device, priority, labels, idempotency key,
// no_cache, timeout) and the SHA-256 of every dataset it reads. Least recently
// used entries are evicted to stay within a byte budget (encoded result sizes).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "impulse/v1/jobs.pb.h"

namespace impulse::core {

class ResultCache {
 public:
  struct Entry {
    std::shared_ptr<const v1::JobResult> result;
    std::string job_id;  // the job that computed it
  };

  explicit ResultCache(std::uint64_t max_bytes) : max_bytes_(max_bytes) {}

  bool enabled() const { return max_bytes_ > 0; }

  // The key of a spec and its datasets' digests (in DatasetsUsed order);
  // nullopt when the spec is too large to be worth keying.
  static std::optional<std::string> Key(
      const v1::JobSpec& spec, std::span<const std::string> dataset_digests);

  std::optional<Entry> Find(const std::string& key);
  // Stores a result (not when larger than the whole budget).
  void Insert(const std::string& key, Entry entry);
  // Forgets the entry computed by `job_id` (the job was deleted or expired),
  // so the cache never answers with a result that is gone.
  void EraseJob(const std::string& job_id);

  std::uint64_t bytes() const;
  std::size_t size() const;
  std::uint64_t hits() const;
  std::uint64_t misses() const;

 private:
  struct Node {
    std::string key;
    Entry entry;
    std::uint64_t bytes = 0;
  };
  using KeyIndex = std::unordered_map<std::string, std::list<Node>::iterator>;
  void EraseLocked(KeyIndex::iterator it);

  const std::uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::list<Node> lru_;  // most recently used first
  KeyIndex by_key_;
  // The key of each entry by the job that computed it (one entry per job).
  std::unordered_map<std::string, std::string> key_by_job_;
  std::uint64_t bytes_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace impulse::core
