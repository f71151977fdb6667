#include "server/grpc/dataset_handlers.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "server/grpc/rpc_loops.h"

namespace impulse::grpc_bridge {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

constexpr std::uint32_t kDefaultPage = 10;
constexpr std::uint32_t kMaxPage = 1000;

// Threads for the blocking steps of uploads (file writes, SHA-256, checking
// a whole dataset); shared by every server in the process.
asio::thread_pool& BlockingPool() {
  static asio::thread_pool pool(2);
  return pool;
}

// Runs f() on the blocking pool and resumes on the caller's executor.
template <typename T, typename F>
awaitable<T> OnBlockingPool(F f) {
  auto run = [f = std::move(f)]() mutable -> awaitable<T> { co_return f(); };
  auto spawned = asio::co_spawn(BlockingPool().get_executor(), std::move(run),
                                use_awaitable);
  co_return co_await std::move(spawned);
}

grpc::Status InvalidArgument(const std::string& field,
                             const std::string& message) {
  return edge::ToGrpcStatus(Error::InvalidArgument(field, message));
}

using UploadCall = ClientStreamCall<v1::UploadDatasetRequest, v1::Dataset>;

awaitable<grpc::Status> Upload(core::JobManager* manager, UploadCall& call,
                               v1::Dataset& out) {
  v1::UploadDatasetRequest message;
  if (!co_await Read(call.reader, &message, use_awaitable)) {
    co_return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                           "header: the upload ended before its header");
  }
  if (!message.has_header()) {
    co_return InvalidArgument("header",
                              "the first message must carry the header");
  }
  Result<std::unique_ptr<core::DatasetStore::Upload>> begun =
      manager->datasets().BeginUpload(message.header());
  if (!begun.ok()) co_return StatusOf(begun.error(), call.context);
  std::shared_ptr<core::DatasetStore::Upload> upload = std::move(begun.value());
  bool last = message.last();
  while (!last) {
    message.Clear();
    if (!co_await Read(call.reader, &message, use_awaitable)) {
      // Cancelled, disconnected, or finished without `last`: the upload is
      // incomplete, and the temp file goes with `upload`.
      spdlog::info("dataset={} upload incomplete after {} bytes; discarded",
                   upload->header().name(), upload->size());
      co_return InvalidArgument(
          "last",
          "the upload ended without a message with last=true; "
          "nothing was stored");
    }
    if (message.has_header()) {
      co_return InvalidArgument("header",
                                "only the first message carries a header");
    }
    if (message.chunk().size() >
        manager->datasets().options().max_chunk_bytes) {
      co_return InvalidArgument(
          "chunk",
          std::to_string(message.chunk().size()) +
              " bytes is over the limit of " +
              std::to_string(manager->datasets().options().max_chunk_bytes) +
              " bytes per message; send smaller chunks");
    }
    last = message.last();
    auto chunk =
        std::make_shared<std::string>(std::move(*message.mutable_chunk()));
    // Named first: GCC 12 destroys non-trivial temporaries of a co_await
    // expression twice.
    auto append = [upload, chunk] { return upload->Append(*chunk); };
    awaitable<Status> appending = OnBlockingPool<Status>(std::move(append));
    Status appended = co_await std::move(appending);
    if (!appended.ok()) co_return StatusOf(appended.error(), call.context);
  }
  if (call.done.load()) {
    co_return grpc::Status(grpc::StatusCode::CANCELLED, "upload cancelled");
  }
  auto commit = [upload] { return std::optional(upload->Commit()); };
  awaitable<std::optional<Result<v1::Dataset>>> committing =
      OnBlockingPool<std::optional<Result<v1::Dataset>>>(std::move(commit));
  std::optional<Result<v1::Dataset>> committed = co_await std::move(committing);
  if (!committed->ok()) co_return StatusOf(committed->error(), call.context);
  out = std::move(committed->value());
  co_return grpc::Status::OK;
}

// The named in-memory index that Query and Complete read.
Result<std::shared_ptr<const jobs::NamedIndex>> FindIndex(
    core::JobManager& manager, const std::string& name) {
  std::shared_ptr<const jobs::NamedIndex> index = manager.indexes().Find(name);
  if (index == nullptr) {
    return Error{ErrorCode::kNotFound,
                 "no index named '" + name.substr(0, 200) +
                     "' is loaded; run an index job to build it",
                 "index_name"};
  }
  return index;
}

}  // namespace

void StartDatasetHandlers(AcceptGate& gate,
                          v1::JobService::AsyncService* service,
                          grpc::ServerCompletionQueue* cq,
                          core::JobManager& manager,
                          const asio::any_io_executor& ex,
                          int listeners_per_method,
                          metrics::ServerMetrics* metrics) {
  using Service = v1::JobService::AsyncService;
  core::JobManager* m = &manager;

  auto upload = [m](UploadCall& call,
                    v1::Dataset& out) -> awaitable<grpc::Status> {
    co_return co_await Upload(m, call, out);
  };
  auto list =
      [m](UnaryCall<v1::ListDatasetsRequest, v1::ListDatasetsResponse>& call,
          v1::ListDatasetsResponse& out) {
        if (!m->datasets().enabled()) {
          return StatusOf(
              Error{ErrorCode::kFailedPrecondition,
                    "this server keeps no datasets (started without "
                    "a data directory)",
                    ""},
              call.context);
        }
        for (v1::Dataset& d : m->datasets().List()) {
          *out.add_datasets() = std::move(d);
        }
        return grpc::Status::OK;
      };
  auto remove = [m](UnaryCall<v1::DeleteDatasetRequest, v1::Dataset>& call,
                    v1::Dataset& out) {
    Result<v1::Dataset> deleted = m->DeleteDataset(call.request.name());
    if (!deleted.ok()) return StatusOf(deleted.error(), call.context);
    out = std::move(deleted.value());
    return grpc::Status::OK;
  };
  auto query = [m](UnaryCall<v1::QueryRequest, v1::QueryResponse>& call,
                   v1::QueryResponse& out) {
    const v1::QueryRequest& request = call.request;
    Result<std::shared_ptr<const jobs::NamedIndex>> found_index =
        FindIndex(*m, request.index_name());
    if (!found_index.ok()) return StatusOf(found_index.error(), call.context);
    const std::shared_ptr<const jobs::NamedIndex>& index = found_index.value();
    if (request.limit() > kMaxPage) {
      return InvalidArgument("limit", "at most " + std::to_string(kMaxPage));
    }
    Result<analytics::InvertedIndex::QueryResult> found = index->index.Query(
        request.query(), request.offset(),
        request.limit() == 0 ? kDefaultPage : request.limit());
    if (!found.ok()) return StatusOf(found.error(), call.context);
    out.set_total_matches(found.value().total_matches);
    for (const analytics::InvertedIndex::Hit& hit : found.value().hits) {
      v1::QueryHit* h = out.add_hits();
      h->set_doc(hit.doc);
      h->set_score(hit.score);
    }
    return grpc::Status::OK;
  };
  auto complete =
      [m](UnaryCall<v1::CompleteRequest, v1::CompleteResponse>& call,
          v1::CompleteResponse& out) {
        const v1::CompleteRequest& request = call.request;
        Result<std::shared_ptr<const jobs::NamedIndex>> found_index =
            FindIndex(*m, request.index_name());
        if (!found_index.ok()) {
          return StatusOf(found_index.error(), call.context);
        }
        const std::shared_ptr<const jobs::NamedIndex>& index =
            found_index.value();
        if (request.n() > kMaxPage) {
          return InvalidArgument("n", "at most " + std::to_string(kMaxPage));
        }
        for (analytics::InvertedIndex::Completion& c : index->index.Complete(
                 request.prefix(),
                 request.n() == 0 ? kDefaultPage : request.n())) {
          v1::WordFrequency* w = out.add_completions();
          w->set_word(std::move(c.word));
          w->set_count(c.frequency);
        }
        return grpc::Status::OK;
      };

  for (int i = 0; i < listeners_per_method; ++i) {
    asio::co_spawn(ex,
                   ServeClientStream<v1::UploadDatasetRequest, v1::Dataset>(
                       gate, RpcMetrics{metrics, "UploadDataset"}, service,
                       &Service::RequestUploadDataset, cq, upload),
                   asio::detached);
    asio::co_spawn(
        ex,
        ServeUnary<v1::ListDatasetsRequest, v1::ListDatasetsResponse>(
            gate, RpcMetrics{metrics, "ListDatasets"}, service,
            &Service::RequestListDatasets, cq, list),
        asio::detached);
    asio::co_spawn(ex,
                   ServeUnary<v1::DeleteDatasetRequest, v1::Dataset>(
                       gate, RpcMetrics{metrics, "DeleteDataset"}, service,
                       &Service::RequestDeleteDataset, cq, remove),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeUnary<v1::QueryRequest, v1::QueryResponse>(
                       gate, RpcMetrics{metrics, "Query"}, service,
                       &Service::RequestQuery, cq, query),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeUnary<v1::CompleteRequest, v1::CompleteResponse>(
                       gate, RpcMetrics{metrics, "Complete"}, service,
                       &Service::RequestComplete, cq, complete),
                   asio::detached);
  }
}

}  // namespace impulse::grpc_bridge
