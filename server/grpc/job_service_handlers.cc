#include "server/grpc/job_service_handlers.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <mutex>

#include "server/edge/error_mapping.h"
#include "server/grpc/grpc_operation.h"

namespace impulse::grpc_bridge {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

// Events sent per read of the log before checking for newer ones.
constexpr std::size_t kWatchBatch = 64;
constexpr std::size_t kResultChunkBytes = 1 << 20;

template <typename Request, typename Response>
struct UnaryCall {
  grpc::ServerContext context;
  Request request;
  grpc::ServerAsyncResponseWriter<Response> responder{&context};
};

// A server-streaming call. Shared by its coroutine and its done-notification
// operation, which gRPC completes when the call ends for any reason (client
// gone, deadline, shutdown); that wakes a watcher parked on an event log.
template <typename Request, typename Message>
struct StreamCall {
  grpc::ServerContext context;
  Request request;
  grpc::ServerAsyncWriter<Message> writer{&context};
  std::atomic<bool> done{false};
  std::mutex mu;
  std::shared_ptr<core::JobRecord> watched;  // guarded by mu

  void Watch(std::shared_ptr<core::JobRecord> job) {
    std::lock_guard lock(mu);
    watched = std::move(job);
  }
  void OnDone() {
    done.store(true);
    std::lock_guard lock(mu);
    if (watched != nullptr) watched->events().WakeAll();
  }
};

template <typename Call>
class DoneOperation final : public Operation {
 public:
  explicit DoneOperation(std::shared_ptr<Call> call)
      : Operation(&Do), call_(std::move(call)) {}

 private:
  static void Do(Operation* base, bool /*ok*/) {
    auto* self = static_cast<DoneOperation*>(base);
    self->call_->OnDone();
    delete self;
  }
  std::shared_ptr<Call> call_;
};

grpc::Status StatusOf(const Error& error, grpc::ServerContext& context) {
  if (const int seconds = edge::RetryAfterSeconds(error.code); seconds > 0) {
    context.AddTrailingMetadata("retry-after-ms",
                                std::to_string(seconds * 1000));
  }
  return edge::ToGrpcStatus(error);
}

// Sends the job's events after `after_seq` until its terminal event. Returns
// false when the call ended first (client gone, deadline, shutdown).
template <typename Call>
awaitable<bool> StreamEvents(Call& call, std::shared_ptr<core::JobRecord> job,
                             std::uint64_t after_seq) {
  call.Watch(job);
  core::EventLog& log = job->events();
  for (;;) {
    std::vector<v1::JobEvent> events = log.ReadAfter(after_seq, kWatchBatch);
    for (const v1::JobEvent& event : events) {
      if (!co_await Write(call.writer, event, use_awaitable)) co_return false;
      after_seq = event.seq();
      if (event.type() == v1::STATE_CHANGED &&
          core::IsTerminal(event.state())) {
        co_return true;
      }
    }
    if (!events.empty()) continue;
    if (call.done.load()) co_return false;
    // Closed and nothing newer: the watcher already has the terminal event.
    if (log.closed() && after_seq >= log.last_seq()) co_return true;
    co_await log.AsyncWaitAfter(after_seq, &call.done, use_awaitable);
  }
}

// One listener loop per method: ask gRPC for the next call, and on arrival
// spawn `fn` for it as its own coroutine on this executor, then ask again.
// Parameters are by value: they live in the coroutine frame.
template <typename Request, typename Response, typename Service,
          typename Method, typename Fn>
awaitable<void> ServeUnary(AcceptGate& gate, Service* service, Method method,
                           grpc::ServerCompletionQueue* cq, Fn fn) {
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    auto call = std::make_unique<UnaryCall<Request, Response>>();
    if (!co_await RequestCall(gate, service, method, &call->context,
                              &call->request, &call->responder, cq,
                              use_awaitable)) {
      co_return;  // server shutting down
    }
    // Spawned onto the io_context: the call's gRPC steps resume there.
    asio::co_spawn(
        ex,
        [call = std::move(call), fn]() -> awaitable<void> {
          Response response;
          grpc::Status status = fn(*call, response);
          co_await FinishUnary(call->responder, response, status,
                               use_awaitable);
        },
        asio::detached);
  }
}

template <typename Request, typename Message, typename Service, typename Method,
          typename Fn>
awaitable<void> ServeStream(AcceptGate& gate, Service* service, Method method,
                            grpc::ServerCompletionQueue* cq, Fn fn) {
  using Call = StreamCall<Request, Message>;
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    auto call = std::make_shared<Call>();
    auto* done = new DoneOperation<Call>(call);
    call->context.AsyncNotifyWhenDone(done->tag());
    if (!co_await RequestCall(gate, service, method, &call->context,
                              &call->request, &call->writer, cq,
                              use_awaitable)) {
      delete done;  // the call never started, so gRPC will not deliver it
      co_return;
    }
    asio::co_spawn(
        ex,
        [call, fn]() -> awaitable<void> {
          grpc::Status status = co_await fn(*call);
          if (!call->done.load()) {
            co_await FinishStream(call->writer, status, use_awaitable);
          }
        },
        asio::detached);
  }
}

}  // namespace

JobServiceHandlers::JobServiceHandlers(core::JobManager& manager,
                                       asio::any_io_executor executor)
    : manager_(manager), executor_(std::move(executor)) {}

void JobServiceHandlers::Start(grpc::ServerCompletionQueue* cq,
                               int listeners_per_method) {
  using Service = v1::JobService::AsyncService;
  core::JobManager* manager = &manager_;
  Service* service = &service_;
  const asio::any_io_executor& ex = executor_;

  auto submit = [manager](UnaryCall<v1::SubmitRequest, v1::Job>& call,
                          v1::Job& out) {
    auto job = manager->Submit(call.request.spec());
    if (!job.ok()) return StatusOf(job.error(), call.context);
    out = job.value()->ToProto(/*with_result=*/true);
    return grpc::Status::OK;
  };
  auto get = [manager](UnaryCall<v1::GetJobRequest, v1::Job>& call,
                       v1::Job& out) {
    auto job = manager->Find(call.request.id());
    if (!job.ok()) return StatusOf(job.error(), call.context);
    out = job.value()->ToProto(/*with_result=*/true);
    return grpc::Status::OK;
  };
  auto list = [manager](
                  UnaryCall<v1::ListJobsRequest, v1::ListJobsResponse>& call,
                  v1::ListJobsResponse& out) {
    auto page = manager->List(call.request);
    if (!page.ok()) return StatusOf(page.error(), call.context);
    out = std::move(page.value());
    return grpc::Status::OK;
  };
  auto cancel = [manager](UnaryCall<v1::CancelJobRequest, v1::Job>& call,
                          v1::Job& out) {
    auto job = manager->Cancel(call.request.id());
    if (!job.ok()) return StatusOf(job.error(), call.context);
    out = job.value()->ToProto(/*with_result=*/true);
    return grpc::Status::OK;
  };
  auto watch = [manager](StreamCall<v1::WatchRequest, v1::JobEvent>& call)
      -> awaitable<grpc::Status> {
    auto job = manager->Find(call.request.id());
    if (!job.ok()) co_return StatusOf(job.error(), call.context);
    co_await StreamEvents(call, job.value(), call.request.after_seq());
    co_return grpc::Status::OK;
  };
  auto run = [manager](StreamCall<v1::RunRequest, v1::JobEvent>& call)
      -> awaitable<grpc::Status> {
    auto job = manager->Submit(call.request.spec());
    if (!job.ok()) co_return StatusOf(job.error(), call.context);
    co_await StreamEvents(call, job.value(), 0);
    co_return grpc::Status::OK;
  };
  auto get_result =
      [manager](StreamCall<v1::GetResultRequest, v1::ResultChunk>& call)
      -> awaitable<grpc::Status> {
    auto chunks = manager->ResultChunks(call.request.id(), kResultChunkBytes);
    if (!chunks.ok()) co_return StatusOf(chunks.error(), call.context);
    for (const v1::ResultChunk& chunk : chunks.value()) {
      if (!co_await Write(call.writer, chunk, use_awaitable)) break;
    }
    co_return grpc::Status::OK;
  };

  for (int i = 0; i < listeners_per_method; ++i) {
    asio::co_spawn(ex,
                   ServeUnary<v1::SubmitRequest, v1::Job>(
                       gate_, service, &Service::RequestSubmit, cq, submit),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeUnary<v1::GetJobRequest, v1::Job>(
                       gate_, service, &Service::RequestGet, cq, get),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeUnary<v1::ListJobsRequest, v1::ListJobsResponse>(
                       gate_, service, &Service::RequestList, cq, list),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeUnary<v1::CancelJobRequest, v1::Job>(
                       gate_, service, &Service::RequestCancel, cq, cancel),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeStream<v1::WatchRequest, v1::JobEvent>(
                       gate_, service, &Service::RequestWatch, cq, watch),
                   asio::detached);
    asio::co_spawn(ex,
                   ServeStream<v1::RunRequest, v1::JobEvent>(
                       gate_, service, &Service::RequestRun, cq, run),
                   asio::detached);
    asio::co_spawn(
        ex,
        ServeStream<v1::GetResultRequest, v1::ResultChunk>(
            gate_, service, &Service::RequestGetResult, cq, get_result),
        asio::detached);
  }
}

}  // namespace impulse::grpc_bridge
