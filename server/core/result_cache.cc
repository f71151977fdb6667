#include "server/core/result_cache.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "server/core/dataset_store.h"

namespace impulse::core {
namespace {

// Specs larger than this (e.g. millions of explicit particles) are not
// cached: hashing them costs about as much as a small job.
constexpr std::size_t kMaxKeyedSpecBytes = 1 << 20;
// Bookkeeping per entry, so many tiny results still count.
constexpr std::uint64_t kEntryOverheadBytes = 256;

}  // namespace

std::optional<std::string> ResultCache::Key(
    const v1::JobSpec& spec, std::span<const std::string> dataset_digests) {
  v1::JobSpec keyed = spec;
  keyed.clear_device();
  keyed.clear_priority();
  keyed.clear_labels();
  keyed.clear_idempotency_key();
  keyed.clear_no_cache();
  keyed.clear_timeout();
  if (keyed.ByteSizeLong() > kMaxKeyedSpecBytes) return std::nullopt;
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    keyed.SerializeToCodedStream(&out);
  }
  for (const std::string& digest : dataset_digests) {
    bytes += '\0';
    bytes += digest;
  }
  return Sha256Hex(bytes);
}

std::optional<ResultCache::Entry> ResultCache::Find(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->entry;
}

void ResultCache::Insert(const std::string& key, Entry entry) {
  if (!enabled() || entry.result == nullptr) return;
  const std::uint64_t bytes =
      entry.result->ByteSizeLong() + key.size() + kEntryOverheadBytes;
  if (bytes > max_bytes_) return;
  std::lock_guard lock(mu_);
  if (auto it = by_key_.find(key); it != by_key_.end()) EraseLocked(it);
  key_by_job_[entry.job_id] = key;
  lru_.push_front(Node{key, std::move(entry), bytes});
  by_key_[key] = lru_.begin();
  bytes_ += bytes;
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    EraseLocked(by_key_.find(lru_.back().key));
  }
}

void ResultCache::EraseJob(const std::string& job_id) {
  std::lock_guard lock(mu_);
  auto job = key_by_job_.find(job_id);
  if (job == key_by_job_.end()) return;
  auto it = by_key_.find(job->second);
  if (it != by_key_.end() && it->second->entry.job_id == job_id) {
    EraseLocked(it);
  } else {
    key_by_job_.erase(job);
  }
}

void ResultCache::EraseLocked(KeyIndex::iterator it) {
  bytes_ -= it->second->bytes;
  auto job = key_by_job_.find(it->second->entry.job_id);
  if (job != key_by_job_.end() && job->second == it->first) {
    key_by_job_.erase(job);
  }
  lru_.erase(it->second);
  by_key_.erase(it);
}

std::uint64_t ResultCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

std::size_t ResultCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

std::uint64_t ResultCache::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

std::uint64_t ResultCache::misses() const {
  std::lock_guard lock(mu_);
  return misses_;
}

}  // namespace impulse::core
