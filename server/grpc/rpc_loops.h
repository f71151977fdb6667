// Listener loops and call state for the async gRPC API, on top of the
// CompletionQueue bridge: each method has listener coroutines that ask gRPC
// for the next call and spawn one coroutine per call on the io_context.
#pragma once

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

#include "compute/common/status.h"
#include "server/edge/error_mapping.h"
#include "server/grpc/grpc_operation.h"
#include "server/metrics/server_metrics.h"

namespace impulse::grpc_bridge {

// Counts an open stream (a watcher) for as long as it lives.
class ScopedGaugeIncrement {
 public:
  explicit ScopedGaugeIncrement(metrics::Gauge* gauge) : gauge_(gauge) {
    if (gauge_ != nullptr) gauge_->Increment();
  }
  ~ScopedGaugeIncrement() {
    if (gauge_ != nullptr) gauge_->Decrement();
  }
  ScopedGaugeIncrement(const ScopedGaugeIncrement&) = delete;
  ScopedGaugeIncrement& operator=(const ScopedGaugeIncrement&) = delete;

 private:
  metrics::Gauge* gauge_;
};

// Counts calls of one method into the server's metrics (when there are any).
struct RpcMetrics {
  metrics::ServerMetrics* metrics = nullptr;
  const char* method = "";

  void Record(const grpc::Status& status,
              std::chrono::steady_clock::time_point start) const {
    if (metrics == nullptr) return;
    metrics->grpc_requests
        .WithLabels({method, StatusCodeName(status.error_code())})
        .Increment();
    metrics->grpc_request_duration.WithLabels({method}).ObserveDuration(
        std::chrono::steady_clock::now() - start);
  }
  static const char* StatusCodeName(grpc::StatusCode code);
};

template <typename Request, typename Response>
struct UnaryCall {
  grpc::ServerContext context;
  std::string tenant;  // the caller's, from its token (AcceptGate)
  Request request;
  grpc::ServerAsyncResponseWriter<Response> responder{&context};
};

// How a call that may wait long (a stream, an upload, Execute) learns that
// it ended. gRPC completes the call's done-notification when it ends for any
// reason (client gone, deadline, shutdown); that sets `done` and runs `wake`,
// which wakes the call's coroutine if it is parked (e.g. on an event log).
struct CallEnd {
  std::atomic<bool> done{false};
  std::mutex mu;
  std::function<void()> wake;  // guarded by mu

  // What wakes this call's coroutine when it is parked and the call ends;
  // runs on the poller thread, so keep it cheap.
  void SetWake(std::function<void()> fn) {
    std::lock_guard lock(mu);
    wake = std::move(fn);
  }
  void OnDone() {
    done.store(true);
    std::lock_guard lock(mu);
    if (wake) wake();
  }
};

// A server-streaming call, shared by its coroutine and its done-notification.
template <typename Request, typename Message>
struct StreamCall : CallEnd {
  grpc::ServerContext context;
  std::string tenant;  // the caller's, from its token (AcceptGate)
  Request request;
  grpc::ServerAsyncWriter<Message> writer{&context};
  // Where each write's operation lives (one write is in flight at a time).
  StepStorage write_step;
  // Set by a handler that already finished the call (WriteAndFinish with its
  // last message), so the listener does not; `finish_ok` is whether that
  // step completed (false: the client was gone).
  bool finished = false;
  bool finish_ok = false;
};

// A unary call whose answer may take long (Execute waits for the job's end):
// like UnaryCall, plus CallEnd, so a caller that goes away frees it at once.
template <typename Request, typename Response>
struct WaitingUnaryCall : CallEnd {
  grpc::ServerContext context;
  std::string tenant;  // the caller's, from its token (AcceptGate)
  Request request;
  grpc::ServerAsyncResponseWriter<Response> responder{&context};
};

// A client-streaming call (e.g. an upload): the handler reads messages until
// the client is done, then answers once. `done` tells a cancelled client from
// one that finished sending.
template <typename Request, typename Response>
struct ClientStreamCall : CallEnd {
  grpc::ServerContext context;
  std::string tenant;  // the caller's, from its token (AcceptGate)
  grpc::ServerAsyncReader<Response, Request> reader{&context};
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

// Asks gRPC to tell `call` when it ends; call before requesting the call.
// Returns the notification so that a listener whose request is declined can
// delete it (gRPC delivers it only for a call that started).
template <typename Call>
DoneOperation<Call>* NotifyWhenDone(const std::shared_ptr<Call>& call) {
  auto* done = new DoneOperation<Call>(call);
  auto notify = [raw = call.get()](void* tag) {
    raw->context.AsyncNotifyWhenDone(tag);
  };
  done->Start(notify);
  return done;
}

// The status of a call that ended before its answer (the client went away,
// its deadline passed, or the server is shutting down). gRPC may report a
// failed write before the done-notification arrives, so handlers say so
// themselves instead of relying on `done` being set by then.
inline grpc::Status ClientGone() {
  return grpc::Status(grpc::StatusCode::CANCELLED, "call ended by the client");
}

inline grpc::Status StatusOf(const Error& error, grpc::ServerContext& context) {
  if (const int seconds = edge::RetryAfterSeconds(error.code); seconds > 0) {
    context.AddTrailingMetadata("retry-after-ms",
                                std::to_string(seconds * 1000));
  }
  return edge::ToGrpcStatus(error);
}

// Sets call.tenant from the caller's token; false (with the UNAUTHENTICATED
// status in `status`) when the gate refuses the caller.
template <typename Call>
bool Admit(const AcceptGate& gate, Call& call, grpc::Status& status) {
  Result<std::string> tenant = gate.Authenticate(call.context);
  if (!tenant.ok()) {
    status = StatusOf(tenant.error(), call.context);
    return false;
  }
  call.tenant = std::move(tenant.value());
  return true;
}

// One listener loop per method: ask gRPC for the next call, and on arrival
// spawn `fn` for it as its own coroutine on this executor, then ask again.
// `fn(call, response)` returns the status, or an awaitable of it when it
// has to wait (e.g. for the journal). Parameters are by value: they live in
// the coroutine frame.
template <typename Request, typename Response, typename Service,
          typename Method, typename Fn>
boost::asio::awaitable<void> ServeUnary(AcceptGate& gate, RpcMetrics stats,
                                        Service* service, Method method,
                                        grpc::ServerCompletionQueue* cq,
                                        Fn fn) {
  auto ex = co_await boost::asio::this_coro::executor;
  for (;;) {
    auto call = std::make_unique<UnaryCall<Request, Response>>();
    if (!co_await RequestCall(gate, service, method, &call->context,
                              &call->request, &call->responder, cq,
                              boost::asio::use_awaitable)) {
      co_return;  // server shutting down
    }
    // Spawned onto the io_context: the call's gRPC steps resume there.
    boost::asio::co_spawn(
        ex,
        [call = std::move(call), fn, stats,
         &gate]() -> boost::asio::awaitable<void> {
          const auto start = std::chrono::steady_clock::now();
          Response response;
          grpc::Status status;
          if (Admit(gate, *call, status)) {
            if constexpr (std::is_same_v<decltype(fn(*call, response)),
                                         grpc::Status>) {
              status = fn(*call, response);
            } else {
              status = co_await fn(*call, response);
            }
          }
          // Counted before the answer goes out, so a client that reads the
          // metrics right after its call sees the call counted.
          stats.Record(status, start);
          co_await FinishUnary(call->responder, response, status,
                               boost::asio::use_awaitable);
        },
        boost::asio::detached);
  }
}

// The listener loop of a method whose calls are told when they end: arranges
// the next call's done-notification, asks gRPC for the call (`kAnswerer`:
// the call's responder or writer), and spawns `serve(call)` for it. `serve`
// is copied into the spawned coroutine, which may outlive this loop.
template <typename Call, auto kAnswerer, typename Service, typename Method,
          typename Serve>
boost::asio::awaitable<void> ListenNotifyingDone(
    AcceptGate& gate, Service* service, Method method,
    grpc::ServerCompletionQueue* cq, Serve serve) {
  auto ex = co_await boost::asio::this_coro::executor;
  for (;;) {
    auto call = std::make_shared<Call>();
    auto* done = NotifyWhenDone(call);
    if (!co_await RequestCall(gate, service, method, &call->context,
                              &call->request, &((*call).*kAnswerer), cq,
                              boost::asio::use_awaitable)) {
      delete done;  // the call never started, so gRPC will not deliver it
      co_return;
    }
    boost::asio::co_spawn(
        ex, [call, serve]() { return serve(call); }, boost::asio::detached);
  }
}

// Like ServeUnary for a method whose answer may wait long: `fn(call,
// response)` is a coroutine returning the status, and the call is told when
// it ends, so `fn` can stop waiting for a caller that went away (the answer
// is then not sent).
template <typename Request, typename Response, typename Service,
          typename Method, typename Fn>
boost::asio::awaitable<void> ServeWaitingUnary(AcceptGate& gate,
                                               RpcMetrics stats,
                                               Service* service, Method method,
                                               grpc::ServerCompletionQueue* cq,
                                               Fn fn) {
  using Call = WaitingUnaryCall<Request, Response>;
  return ListenNotifyingDone<Call, &Call::responder>(
      gate, service, method, cq,
      [fn, stats,
       &gate](std::shared_ptr<Call> call) -> boost::asio::awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        Response response;
        grpc::Status status;
        if (Admit(gate, *call, status)) {
          status = co_await fn(*call, response);
        }
        // Read once, so the call is counted as it is then answered or not.
        const bool gone = call->done.load();
        if (gone) status = ClientGone();
        stats.Record(status, start);
        if (!gone) {
          co_await FinishUnary(call->responder, response, status,
                               boost::asio::use_awaitable);
        }
      });
}

template <typename Request, typename Message, typename Service, typename Method,
          typename Fn>
boost::asio::awaitable<void> ServeStream(AcceptGate& gate, RpcMetrics stats,
                                         Service* service, Method method,
                                         grpc::ServerCompletionQueue* cq,
                                         Fn fn) {
  using Call = StreamCall<Request, Message>;
  return ListenNotifyingDone<Call, &Call::writer>(
      gate, service, method, cq,
      [fn, stats,
       &gate](std::shared_ptr<Call> call) -> boost::asio::awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        grpc::Status status;
        if (Admit(gate, *call, status)) status = co_await fn(*call);
        if (call->finished) {
          // Answered with its last message (done may be set by now).
          if (!call->finish_ok) status = ClientGone();
        } else if (call->done.load()) {
          status = ClientGone();
        } else {
          co_await FinishStream(call->writer, status,
                                boost::asio::use_awaitable);
        }
        stats.Record(status, start);
      });
}

// Like ServeUnary for a client-streaming method: `fn(call, response)` is a
// coroutine returning the status; it reads the call's messages itself.
template <typename Request, typename Response, typename Service,
          typename Method, typename Fn>
boost::asio::awaitable<void> ServeClientStream(AcceptGate& gate,
                                               RpcMetrics stats,
                                               Service* service, Method method,
                                               grpc::ServerCompletionQueue* cq,
                                               Fn fn) {
  using Call = ClientStreamCall<Request, Response>;
  auto ex = co_await boost::asio::this_coro::executor;
  for (;;) {
    auto call = std::make_shared<Call>();
    auto* done = NotifyWhenDone(call);
    // The start function is named, not a temporary of the co_await
    // expression: GCC 12 destroys those twice.
    Call* raw = call.get();
    auto start = [&gate, service, method, cq, raw](void* tag) {
      return gate.RunIfOpen([&] {
        (service->*method)(&raw->context, &raw->reader, cq, cq, tag);
      });
    };
    const bool started =
        co_await AsyncGrpc(std::move(start), boost::asio::use_awaitable);
    if (!started) {
      delete done;  // the call never started, so gRPC will not deliver it
      co_return;
    }
    boost::asio::co_spawn(
        ex,
        [call, fn, stats, &gate]() -> boost::asio::awaitable<void> {
          const auto start = std::chrono::steady_clock::now();
          Response response;
          grpc::Status status;
          if (Admit(gate, *call, status)) {
            status = co_await fn(*call, response);
          }
          if (call->done.load()) {
            status = ClientGone();
          } else {
            co_await FinishReader(call->reader, response, status,
                                  boost::asio::use_awaitable);
          }
          stats.Record(status, start);
        },
        boost::asio::detached);
  }
}

}  // namespace impulse::grpc_bridge
