#include "server/grpc/dataset_handlers.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "server/edge/blocking_pool.h"
#include "server/grpc/rpc_loops.h"

namespace impulse::grpc_bridge {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

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
      manager->datasets(call.tenant).BeginUpload(message.header());
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
        manager->datasets(call.tenant).options().max_chunk_bytes) {
      co_return InvalidArgument(
          "chunk",
          std::to_string(message.chunk().size()) +
              " bytes is over the limit of " +
              std::to_string(
                  manager->datasets(call.tenant).options().max_chunk_bytes) +
              " bytes per message; send smaller chunks");
    }
    last = message.last();
    auto chunk =
        std::make_shared<std::string>(std::move(*message.mutable_chunk()));
    // Named first: GCC 12 destroys non-trivial temporaries of a co_await
    // expression twice.
    auto append = [upload, chunk] { return upload->Append(*chunk); };
    awaitable<Status> appending =
        edge::OnBlockingPool<Status>(std::move(append));
    Status appended = co_await std::move(appending);
    if (!appended.ok()) co_return StatusOf(appended.error(), call.context);
  }
  if (call.done.load()) {
    co_return grpc::Status(grpc::StatusCode::CANCELLED, "upload cancelled");
  }
  auto commit = [upload] { return std::optional(upload->Commit()); };
  awaitable<std::optional<Result<v1::Dataset>>> committing =
      edge::OnBlockingPool<std::optional<Result<v1::Dataset>>>(
          std::move(commit));
  std::optional<Result<v1::Dataset>> committed = co_await std::move(committing);
  if (!committed->ok()) co_return StatusOf(committed->error(), call.context);
  out = std::move(committed->value());
  co_return grpc::Status::OK;
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
  // Unary calls that answer what the JobManager answers for the caller's
  // tenant.
  auto unary = [](auto method) {
    return [method](auto& call, auto& out) {
      auto answer = method(call.request, call.tenant);
      if (!answer.ok()) return StatusOf(answer.error(), call.context);
      out = std::move(answer.value());
      return grpc::Status::OK;
    };
  };
  auto list = unary([m](const v1::ListDatasetsRequest&, const std::string& t) {
    return m->ListDatasets(t);
  });
  auto remove =
      unary([m](const v1::DeleteDatasetRequest& request, const std::string& t) {
        return m->DeleteDataset(request.name(), t);
      });
  auto query =
      unary([m](const v1::QueryRequest& request, const std::string& t) {
        return m->Query(request, t);
      });
  auto complete =
      unary([m](const v1::CompleteRequest& request, const std::string& t) {
        return m->Complete(request, t);
      });

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
