// What analytics job kinds see of datasets and named indexes. The server's
// DatasetStore (server/core) implements the lookups; kinds only read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "compute/analytics/inverted_index.h"
#include "compute/common/status.h"
#include "impulse/v1/jobs.pb.h"

namespace impulse::jobs {

// A dataset named by a job spec: the spec field that names it and the name.
struct DatasetUse {
  std::string field;  // e.g. "spec.knn.query_dataset"
  std::string name;
};

// An immutable dataset's bytes, memory-mapped (or read whole) for as long as
// the object lives; the file may be unlinked meanwhile.
struct DatasetContent {
  v1::Dataset info;
  std::string_view bytes;
  std::shared_ptr<const void> keepalive;  // owns the mapping behind `bytes`
};

// An inverted index kept in memory under a name for Query and Complete.
struct NamedIndex {
  std::string name;
  std::string job_id;   // the index job that built it
  v1::Dataset dataset;  // what it was built from
  analytics::InvertedIndex index;
};

// Named indexes shared by index jobs (writers) and the Query/Complete RPCs
// (readers). A reader holds a shared_ptr, so replacing an index never pulls
// it from under a running query.
class IndexRegistry {
 public:
  void Put(std::shared_ptr<const NamedIndex> index) {
    std::lock_guard lock(mu_);
    indexes_[index->name] = std::move(index);
  }
  std::shared_ptr<const NamedIndex> Find(std::string_view name) const {
    std::lock_guard lock(mu_);
    auto it = indexes_.find(std::string(name));
    return it == indexes_.end() ? nullptr : it->second;
  }
  std::vector<std::string> Names() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> names;
    for (const auto& [name, index] : indexes_) names.push_back(name);
    return names;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const NamedIndex>> indexes_;
};

// Dataset and index names: 1..128 characters from [A-Za-z0-9._-], not "."
// or "..". So a name is always a safe single path component.
inline bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name == "." || name == "..") {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

inline Status ValidateName(std::string_view name, const std::string& field) {
  if (name.empty()) return Error::InvalidArgument(field, "must be set");
  if (!IsValidName(name)) {
    return Error::InvalidArgument(
        field, "'" + std::string(name.substr(0, 200)) +
                   "' is not a valid name: use 1..128 characters from "
                   "A-Z a-z 0-9 . _ - (not '.' or '..')");
  }
  return {};
}

}  // namespace impulse::jobs
