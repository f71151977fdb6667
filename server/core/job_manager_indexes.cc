// JobManager's read side for datasets and indexes, shared by the gRPC and
// REST front ends so both apply the same defaults, limits and errors:
// listing datasets, and Query / Complete over the named in-memory indexes
// that `index` jobs build.
#include <string>

#include "server/core/job_manager.h"

namespace impulse::core {
namespace {

constexpr std::uint32_t kDefaultPage = 10;
constexpr std::uint32_t kMaxPage = 1000;

Result<std::shared_ptr<const jobs::NamedIndex>> FindIndex(
    const jobs::IndexRegistry& indexes, const std::string& name) {
  std::shared_ptr<const jobs::NamedIndex> index = indexes.Find(name);
  if (index == nullptr) {
    return Error{ErrorCode::kNotFound,
                 "no index named '" + name.substr(0, 200) +
                     "' is loaded; run an index job to build it",
                 "index_name"};
  }
  return index;
}

Status CheckPage(std::uint32_t value, const std::string& field) {
  if (value > kMaxPage) {
    return Error::InvalidArgument(field, "at most " + std::to_string(kMaxPage));
  }
  return {};
}

}  // namespace

Result<v1::ListDatasetsResponse> JobManager::ListDatasets(
    const std::string& tenant) const {
  const DatasetStore& store = StoreFor(tenant);
  if (!store.enabled()) {
    return Error{ErrorCode::kFailedPrecondition,
                 "this server keeps no datasets (started without a data "
                 "directory)",
                 ""};
  }
  v1::ListDatasetsResponse out;
  for (v1::Dataset& d : store.List()) *out.add_datasets() = std::move(d);
  return out;
}

Result<v1::QueryResponse> JobManager::Query(const v1::QueryRequest& request,
                                            const std::string& tenant) const {
  Result<std::shared_ptr<const jobs::NamedIndex>> index =
      FindIndex(IndexesFor(tenant), request.index_name());
  if (!index.ok()) return index.error();
  if (Status status = CheckPage(request.limit(), "limit"); !status.ok()) {
    return status.error();
  }
  Result<analytics::InvertedIndex::QueryResult> found =
      index.value()->index.Query(
          request.query(), request.offset(),
          request.limit() == 0 ? kDefaultPage : request.limit());
  if (!found.ok()) return found.error();
  v1::QueryResponse out;
  out.set_total_matches(found.value().total_matches);
  for (const analytics::InvertedIndex::Hit& hit : found.value().hits) {
    v1::QueryHit* h = out.add_hits();
    h->set_doc(hit.doc);
    h->set_score(hit.score);
  }
  return out;
}

Result<v1::CompleteResponse> JobManager::Complete(
    const v1::CompleteRequest& request, const std::string& tenant) const {
  Result<std::shared_ptr<const jobs::NamedIndex>> index =
      FindIndex(IndexesFor(tenant), request.index_name());
  if (!index.ok()) return index.error();
  if (Status status = CheckPage(request.n(), "n"); !status.ok()) {
    return status.error();
  }
  v1::CompleteResponse out;
  for (analytics::InvertedIndex::Completion& c : index.value()->index.Complete(
           request.prefix(), request.n() == 0 ? kDefaultPage : request.n())) {
    v1::WordFrequency* w = out.add_completions();
    w->set_word(std::move(c.word));
    w->set_count(c.frequency);
  }
  return out;
}

}  // namespace impulse::core
