// The gRPC CompletionQueue <-> Asio bridge, operation side. Every async gRPC
// step allocates one Operation whose address is the CQ tag. When the poller
// thread takes the tag off the queue it calls Complete(ok), which posts the
// stored completion handler to the handler's own executor: a coroutine that
// awaited a gRPC step resumes on an io_context thread, never on the poller.
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "compute/common/status.h"
#include "server/edge/token_auth.h"

namespace impulse::grpc_bridge {

// Base of every CQ tag: one function pointer, no virtual table, no state enum.
//
// Under TSan a lock, held while the tag is handed to gRPC and taken again
// before the tag completes, orders everything the starting thread did (the
// message serialised, the call's fields set) before the completing thread:
// gRPC orders the two with synchronisation in uninstrumented libraries that
// TSan cannot see (tools/sanitizers/tsan.supp). The locks are static (TSan
// sees their one-time construction ordered by the static-init guard, which a
// lock inside each operation would lack) and striped by address, so
// unrelated hand-offs rarely share one. Not built otherwise.
class Operation {
 public:
  void Complete(bool ok) {
#if defined(__SANITIZE_THREAD__)
    { std::lock_guard wait_for_start(HandoffLock()); }
#endif
    complete_(this, ok);
  }

  // Runs `start(tag)`, which hands this operation's tag to one gRPC async
  // call, and returns whether it did (`start` returns void or that bool).
  // When it did not, the operation is still the caller's: Complete it.
  template <typename StartFn>
  bool Start(StartFn& start) {
#if defined(__SANITIZE_THREAD__)
    std::lock_guard handing_off(HandoffLock());
#endif
    if constexpr (std::is_same_v<decltype(start(static_cast<void*>(this))),
                                 bool>) {
      return start(static_cast<void*>(this));
    } else {
      start(static_cast<void*>(this));
      return true;
    }
  }

 protected:
  using CompleteFn = void (*)(Operation*, bool);
  explicit Operation(CompleteFn complete) : complete_(complete) {}
  ~Operation() = default;

 private:
#if defined(__SANITIZE_THREAD__)
  std::mutex& HandoffLock() {
    static std::mutex locks[64];
    return locks[(reinterpret_cast<std::uintptr_t>(this) >> 4) % 64];
  }
#endif

  CompleteFn complete_;
};

// Holds an Asio completion handler `void(bool ok)` and keeps its executor's
// io_context alive (outstanding work) until the gRPC step completes.
template <typename Handler>
class HandlerOperation final : public Operation {
 public:
  explicit HandlerOperation(Handler handler)
      : Operation(&Do),
        handler_(std::move(handler)),
        work_(boost::asio::prefer(
            boost::asio::get_associated_executor(handler_),
            boost::asio::execution::outstanding_work.tracked)) {}

 private:
  static void Do(Operation* base, bool ok) {
    auto* self = static_cast<HandlerOperation*>(base);
    Handler handler = std::move(self->handler_);
    auto work = std::move(self->work_);
    delete self;
    boost::asio::post(work, [handler = std::move(handler), ok]() mutable {
      std::move(handler)(ok);
    });
  }

  Handler handler_;
  std::decay_t<decltype(boost::asio::prefer(
      std::declval<boost::asio::associated_executor_t<Handler>>(),
      boost::asio::execution::outstanding_work.tracked))>
      work_;
};

// Starts one gRPC step: `start(tag)` must hand `tag` to exactly one gRPC async
// call, or return false without handing it over. Completes with `bool ok`
// (false: the call ended, was cancelled, the server is shutting down or
// `start` declined; a normal outcome, not an error).
template <typename CompletionToken, typename StartFn>
auto AsyncGrpc(StartFn start, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(bool)>(
      [](auto handler, StartFn start) {
        using H = std::decay_t<decltype(handler)>;
        auto* op = new HandlerOperation<H>(std::move(handler));
        if (!op->Start(start)) op->Complete(false);
      },
      token, std::move(start));
}

// ----- completion-token wrappers, so one RPC reads top to bottom as a
// coroutine

// What every call passes through: listener loops ask gRPC for new calls only
// until shutdown begins (requesting a call from a server that is shutting
// down is fatal in gRPC), and with a token table each call must carry a
// known bearer token, which names its tenant.
class AcceptGate {
 public:
  // Set before serving starts; null (the default) = no tokens needed.
  void RequireTokens(std::shared_ptr<const edge::TokenAuth> auth) {
    auth_ = std::move(auth);
  }
  // The caller's tenant ("" without tokens), or kUnauthenticated.
  Result<std::string> Authenticate(const grpc::ServerContext& context) const {
    if (auth_ == nullptr) return std::string();
    const auto& metadata = context.client_metadata();
    auto it = metadata.find("authorization");
    std::string_view value;
    if (it != metadata.end()) {
      value = std::string_view(it->second.data(), it->second.size());
    }
    return auth_->Authenticate(value);
  }

  // Runs `request` unless closed; returns whether it ran.
  template <typename Fn>
  bool RunIfOpen(Fn request) {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    request();
    return true;
  }
  // After this returns no new call is requested (call before Server::Shutdown).
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }

 private:
  std::mutex mu_;
  bool closed_ = false;
  std::shared_ptr<const edge::TokenAuth> auth_;
};

// Asks gRPC for the next call of one method (the generated RequestXxx).
// Completes with false at once when the gate is closed.
template <typename Service, typename RequestMethod, typename Request,
          typename Responder, typename CompletionToken>
auto RequestCall(AcceptGate& gate, Service* service, RequestMethod method,
                 grpc::ServerContext* context, Request* request,
                 Responder* responder, grpc::ServerCompletionQueue* cq,
                 CompletionToken&& token) {
  return AsyncGrpc(
      [=, &gate](void* tag) {
        return gate.RunIfOpen([&] {
          (service->*method)(context, request, responder, cq, cq, tag);
        });
      },
      std::forward<CompletionToken>(token));
}

template <typename Response, typename CompletionToken>
auto FinishUnary(grpc::ServerAsyncResponseWriter<Response>& responder,
                 const Response& response, const grpc::Status& status,
                 CompletionToken&& token) {
  return AsyncGrpc(
      [&responder, &response, status](void* tag) {
        if (status.ok()) {
          responder.Finish(response, status, tag);
        } else {
          responder.FinishWithError(status, tag);
        }
      },
      std::forward<CompletionToken>(token));
}

template <typename Message, typename CompletionToken>
auto Write(grpc::ServerAsyncWriter<Message>& writer, const Message& message,
           CompletionToken&& token) {
  return AsyncGrpc(
      [&writer, &message](void* tag) { writer.Write(message, tag); },
      std::forward<CompletionToken>(token));
}

// The last message and the status in one step (one completion instead of
// two). Completes with false when the call ended first.
template <typename Message, typename CompletionToken>
auto WriteAndFinish(grpc::ServerAsyncWriter<Message>& writer,
                    const Message& message, const grpc::Status& status,
                    CompletionToken&& token) {
  return AsyncGrpc(
      [&writer, &message, status](void* tag) {
        writer.WriteAndFinish(message, grpc::WriteOptions(), status, tag);
      },
      std::forward<CompletionToken>(token));
}

// Reads the next message of a client-streaming call; completes with false
// when the client has finished sending (or the call ended).
template <typename Response, typename Request, typename CompletionToken>
auto Read(grpc::ServerAsyncReader<Response, Request>& reader, Request* message,
          CompletionToken&& token) {
  return AsyncGrpc([&reader, message](void* tag) { reader.Read(message, tag); },
                   std::forward<CompletionToken>(token));
}

template <typename Response, typename Request, typename CompletionToken>
auto FinishReader(grpc::ServerAsyncReader<Response, Request>& reader,
                  const Response& response, const grpc::Status& status,
                  CompletionToken&& token) {
  return AsyncGrpc(
      [&reader, &response, status](void* tag) {
        if (status.ok()) {
          reader.Finish(response, status, tag);
        } else {
          reader.FinishWithError(status, tag);
        }
      },
      std::forward<CompletionToken>(token));
}

template <typename Message, typename CompletionToken>
auto FinishStream(grpc::ServerAsyncWriter<Message>& writer,
                  const grpc::Status& status, CompletionToken&& token) {
  return AsyncGrpc([&writer, status](void* tag) { writer.Finish(status, tag); },
                   std::forward<CompletionToken>(token));
}

}  // namespace impulse::grpc_bridge
