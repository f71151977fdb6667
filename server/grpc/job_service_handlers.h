// impulse.v1.JobService over the async gRPC API: every RPC is one
// boost::asio::awaitable coroutine on the server's io_context, driven by the
// CompletionQueue bridge (grpc_operation.h, completion_queue_poller.h).
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/any_io_executor.hpp>

#include "impulse/v1/jobs.grpc.pb.h"
#include "server/core/job_manager.h"
#include "server/grpc/grpc_operation.h"
#include "server/grpc/result_forwarder.h"
#include "server/metrics/server_metrics.h"

namespace impulse::grpc_bridge {

class JobServiceHandlers {
 public:
  JobServiceHandlers(core::JobManager& manager,
                     boost::asio::any_io_executor executor,
                     metrics::ServerMetrics* metrics = nullptr);

  // Registers the async service on the builder (before BuildAndStart).
  void Register(grpc::ServerBuilder& builder) {
    builder.RegisterService(&service_);
  }

  // Spawns the listener coroutines that accept calls from `cq`, on `executor`.
  // Each accepted call runs as its own coroutine on the same executor.
  void Start(grpc::ServerCompletionQueue* cq, int listeners_per_method);
  // Stops asking gRPC for new calls; call before grpc::Server::Shutdown.
  void StopAccepting() { gate_.Close(); }
  // Every call must carry one of these bearer tokens (before Start).
  void RequireTokens(std::shared_ptr<const edge::TokenAuth> auth) {
    gate_.RequireTokens(std::move(auth));
  }
  // Cluster mode: GetResult of a result file another replica keeps is read
  // from it (before Start).
  void ForwardResults(std::shared_ptr<ResultForwarder> forwarder) {
    forwarder_ = std::move(forwarder);
  }

 private:
  core::JobManager& manager_;
  boost::asio::any_io_executor executor_;
  metrics::ServerMetrics* metrics_;
  v1::JobService::AsyncService service_;
  AcceptGate gate_;
  std::shared_ptr<ResultForwarder> forwarder_;
};

}  // namespace impulse::grpc_bridge
