#include "server/grpc/job_service_handlers.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <mutex>

#include "server/core/async_submit.h"
#include "server/edge/error_mapping.h"
#include "server/grpc/dataset_handlers.h"
#include "server/grpc/grpc_operation.h"
#include "server/grpc/rpc_loops.h"

namespace impulse::grpc_bridge {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

constexpr std::size_t kWatchBatch = 64;
constexpr std::size_t kResultChunkBytes = 1 << 20;

using core::AsyncSubmit;
using core::SubmitAnswer;

// Sends the job's events after `after_seq` until its terminal event, which
// goes out with the call's OK status in one step (the call is then finished).
// Returns false when the call ended first (client gone, deadline, shutdown).
// (No buffer hint on writes followed by more: gRPC completes a hinted write
// only once a later write flushes it, and a stream has one write in flight.)
template <typename Call>
awaitable<bool> StreamEvents(Call& call, std::shared_ptr<core::JobRecord> job,
                             std::uint64_t after_seq) {
  call.SetWake([job] { job->events().WakeAll(); });
  core::EventLog& log = job->events();
  // Kept across reads: the events are shared with the log, not copied.
  std::vector<core::EventLog::SharedEvent> events;
  events.reserve(kWatchBatch);
  for (;;) {
    // (Shared with the log, so a watcher whose client stopped reading holds
    // pointers to at most one batch, never copies of it.)
    log.ReadAfter(after_seq, kWatchBatch, &events);
    for (const core::EventLog::SharedEvent& shared : events) {
      const v1::JobEvent& event = *shared;
      if (event.type() == v1::STATE_CHANGED &&
          core::IsTerminal(event.state())) {
        call.finish_ok =
            co_await WriteAndFinish(call.writer, event, grpc::Status::OK,
                                    use_awaitable, &call.write_step);
        call.finished = true;
        co_return call.finish_ok;
      }
      if (!co_await Write(call.writer, event, use_awaitable,
                          &call.write_step)) {
        co_return false;
      }
      after_seq = event.seq();
    }
    if (!events.empty()) continue;
    if (call.done.load()) co_return false;
    // Closed and nothing newer: the watcher already has the terminal event.
    if (log.closed() && after_seq >= log.last_seq()) co_return true;
    co_await log.AsyncWaitAfter(after_seq, &call.done, use_awaitable);
  }
}

}  // namespace

JobServiceHandlers::JobServiceHandlers(core::JobManager& manager,
                                       asio::any_io_executor executor,
                                       metrics::ServerMetrics* metrics)
    : manager_(manager), executor_(std::move(executor)), metrics_(metrics) {}

void JobServiceHandlers::Start(grpc::ServerCompletionQueue* cq,
                               int listeners_per_method) {
  using Service = v1::JobService::AsyncService;
  core::JobManager* manager = &manager_;
  Service* service = &service_;
  const asio::any_io_executor& ex = executor_;

  auto submit = [manager](UnaryCall<v1::SubmitRequest, v1::Job>& call,
                          v1::Job& out) -> awaitable<grpc::Status> {
    SubmitAnswer job = co_await AsyncSubmit(*manager, call.request.spec(),
                                            call.tenant, use_awaitable);
    if (!job.ok()) co_return StatusOf(job.error(), call.context);
    out = job.value()->ToProto(/*with_result=*/true);
    co_return grpc::Status::OK;
  };
  auto get = [manager](UnaryCall<v1::GetJobRequest, v1::Job>& call,
                       v1::Job& out) {
    auto job = manager->Find(call.request.id(), call.tenant);
    if (!job.ok()) return StatusOf(job.error(), call.context);
    out = job.value()->ToProto(/*with_result=*/true);
    return grpc::Status::OK;
  };
  auto list = [manager](
                  UnaryCall<v1::ListJobsRequest, v1::ListJobsResponse>& call,
                  v1::ListJobsResponse& out) {
    auto page = manager->List(call.request, call.tenant);
    if (!page.ok()) return StatusOf(page.error(), call.context);
    out = std::move(page.value());
    return grpc::Status::OK;
  };
  auto cancel = [manager](UnaryCall<v1::CancelJobRequest, v1::Job>& call,
                          v1::Job& out) {
    auto job = manager->Cancel(call.request.id(), call.tenant);
    if (!job.ok()) return StatusOf(job.error(), call.context);
    out = job.value()->ToProto(/*with_result=*/true);
    return grpc::Status::OK;
  };
  auto delete_job = [manager](UnaryCall<v1::DeleteJobRequest, v1::Job>& call,
                              v1::Job& out) {
    auto job = manager->Delete(call.request.id(), call.tenant);
    if (!job.ok()) return StatusOf(job.error(), call.context);
    out = std::move(job.value());
    return grpc::Status::OK;
  };
  metrics::Gauge* watchers =
      metrics_ != nullptr ? &metrics_->active_watchers : nullptr;
  auto watch = [manager,
                watchers](StreamCall<v1::WatchRequest, v1::JobEvent>& call)
      -> awaitable<grpc::Status> {
    auto job = manager->Find(call.request.id(), call.tenant);
    if (!job.ok()) co_return StatusOf(job.error(), call.context);
    ScopedGaugeIncrement watching(watchers);
    if (!co_await StreamEvents(call, job.value(), call.request.after_seq())) {
      co_return ClientGone();
    }
    co_return grpc::Status::OK;
  };
  auto run = [manager, watchers](StreamCall<v1::RunRequest, v1::JobEvent>& call)
      -> awaitable<grpc::Status> {
    SubmitAnswer job = co_await AsyncSubmit(*manager, call.request.spec(),
                                            call.tenant, use_awaitable);
    if (!job.ok()) co_return StatusOf(job.error(), call.context);
    ScopedGaugeIncrement watching(watchers);
    if (!co_await StreamEvents(call, job.value(), 0)) co_return ClientGone();
    co_return grpc::Status::OK;
  };
  // Waits for the job's terminal event (which comes after its state and
  // result are set), then answers as Get does; stops waiting when the call
  // ends first (client gone, deadline, shutdown).
  auto execute = [manager](WaitingUnaryCall<v1::RunRequest, v1::Job>& call,
                           v1::Job& out) -> awaitable<grpc::Status> {
    SubmitAnswer job = co_await AsyncSubmit(*manager, call.request.spec(),
                                            call.tenant, use_awaitable);
    if (!job.ok()) co_return StatusOf(job.error(), call.context);
    std::shared_ptr<core::JobRecord> record = job.value();
    call.SetWake([record] { record->events().WakeAll(); });
    core::EventLog& log = record->events();
    while (!log.closed()) {
      if (call.done.load()) co_return ClientGone();
      co_await log.AsyncWaitClosed(&call.done, use_awaitable);
    }
    out = record->ToProto(/*with_result=*/true);
    co_return grpc::Status::OK;
  };
  auto get_result = [manager, forwarder = forwarder_](
                        StreamCall<v1::GetResultRequest, v1::ResultChunk>& call)
      -> awaitable<grpc::Status> {
    // A forwarded call is served here or not at all (never forwarded on).
    const bool may_forward =
        forwarder != nullptr && !ResultForwarder::IsForwarded(call.context);
    std::string held_by;
    auto chunks =
        manager->StreamResult(call.request.id(), kResultChunkBytes, call.tenant,
                              may_forward ? &held_by : nullptr);
    if (!chunks.ok()) co_return StatusOf(chunks.error(), call.context);
    if (!held_by.empty()) co_return co_await forwarder->Forward(call, held_by);
    v1::ResultChunk chunk;
    for (;;) {
      Result<bool> more = chunks.value()->Next(&chunk);
      if (!more.ok()) co_return StatusOf(more.error(), call.context);
      if (!more.value()) break;
      if (!co_await Write(call.writer, chunk, use_awaitable,
                          &call.write_step)) {
        break;
      }
    }
    co_return grpc::Status::OK;
  };

  for (int i = 0; i < listeners_per_method; ++i) {
    asio::co_spawn(ex,
                   ServeUnary<v1::SubmitRequest, v1::Job>(
                       gate_, RpcMetrics{metrics_, "Submit"}, service,
                       &Service::RequestSubmit, cq, submit),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeUnary<v1::GetJobRequest, v1::Job>(
                       gate_, RpcMetrics{metrics_, "Get"}, service,
                       &Service::RequestGet, cq, get),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeUnary<v1::ListJobsRequest, v1::ListJobsResponse>(
                       gate_, RpcMetrics{metrics_, "List"}, service,
                       &Service::RequestList, cq, list),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeUnary<v1::CancelJobRequest, v1::Job>(
                       gate_, RpcMetrics{metrics_, "Cancel"}, service,
                       &Service::RequestCancel, cq, cancel),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeUnary<v1::DeleteJobRequest, v1::Job>(
                       gate_, RpcMetrics{metrics_, "Delete"}, service,
                       &Service::RequestDelete, cq, delete_job),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeStream<v1::WatchRequest, v1::JobEvent>(
                       gate_, RpcMetrics{metrics_, "Watch"}, service,
                       &Service::RequestWatch, cq, watch),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeStream<v1::RunRequest, v1::JobEvent>(
                       gate_, RpcMetrics{metrics_, "Run"}, service,
                       &Service::RequestRun, cq, run),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeWaitingUnary<v1::RunRequest, v1::Job>(
                       gate_, RpcMetrics{metrics_, "Execute"}, service,
                       &Service::RequestExecute, cq, execute),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeStream<v1::GetResultRequest, v1::ResultChunk>(
                       gate_, RpcMetrics{metrics_, "GetResult"}, service,
                       &Service::RequestGetResult, cq, get_result),
                   asio::detached);
  }
  StartDatasetHandlers(gate_, service, cq, manager_, ex, listeners_per_method,
                       metrics_);
}

}  // namespace impulse::grpc_bridge
