// The dataset and index RPCs of impulse.v1.JobService: UploadDataset
// (client-streaming), ListDatasets, DeleteDataset, Query and Complete. Same
// async service and CompletionQueue as the job RPCs; started from
// JobServiceHandlers::Start.
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/any_io_executor.hpp>

#include "impulse/v1/jobs.grpc.pb.h"
#include "server/core/job_manager.h"
#include "server/grpc/grpc_operation.h"
#include "server/metrics/server_metrics.h"

namespace impulse::grpc_bridge {

// Spawns `listeners_per_method` listener coroutines per dataset/index method
// on `executor`. Blocking work of an upload (hashing, writing, validating)
// runs on a small thread pool, never on the io threads.
void StartDatasetHandlers(AcceptGate& gate,
                          v1::JobService::AsyncService* service,
                          grpc::ServerCompletionQueue* cq,
                          core::JobManager& manager,
                          const boost::asio::any_io_executor& executor,
                          int listeners_per_method,
                          metrics::ServerMetrics* metrics = nullptr);

}  // namespace impulse::grpc_bridge
