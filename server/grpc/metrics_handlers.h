// impulse.v1.MetricsService: WatchMetrics streams live system samples (the
// book's ch6 CPU monitor), one coroutine per watcher on the io_context.
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/any_io_executor.hpp>

#include "impulse/v1/metrics.grpc.pb.h"
#include "server/core/job_manager.h"
#include "server/grpc/grpc_operation.h"
#include "server/metrics/server_metrics.h"

namespace impulse::grpc_bridge {

class MetricsHandlers {
 public:
  MetricsHandlers(const core::JobManager& manager,
                  boost::asio::any_io_executor executor,
                  metrics::ServerMetrics* metrics = nullptr);
  void Register(grpc::ServerBuilder& builder) {
    builder.RegisterService(&service_);
  }
  void Start(grpc::ServerCompletionQueue* cq, int listeners);
  void StopAccepting() { gate_.Close(); }
  // Every call must carry one of these bearer tokens (before Start).
  void RequireTokens(std::shared_ptr<const edge::TokenAuth> auth) {
    gate_.RequireTokens(std::move(auth));
  }

 private:
  const core::JobManager& manager_;
  boost::asio::any_io_executor executor_;
  metrics::ServerMetrics* metrics_;
  v1::MetricsService::AsyncService service_;
  AcceptGate gate_;
};

}  // namespace impulse::grpc_bridge
