// The gRPC CompletionQueue <-> Asio bridge, operation side. Every async gRPC
// step allocates one Operation whose address is the CQ tag. When the poller
// thread takes the tag off the queue it calls Complete(ok), which posts the
// stored completion handler to the handler's own executor: a coroutine that
// awaited a gRPC step resumes on an io_context thread, never on the poller.
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/allocator.hpp>
#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/require.hpp>
#include <cstddef>
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
#if defined(IMPULSE_TSAN)
    { std::lock_guard wait_for_start(HandoffLock()); }
#endif
    complete_(this, ok);
  }

  // Runs `start(tag)`, which hands this operation's tag to one gRPC async
  // call, and returns whether it did (`start` returns void or that bool).
  // When it did not, the operation is still the caller's: Complete it.
  template <typename StartFn>
  bool Start(StartFn& start) {
#if defined(IMPULSE_TSAN)
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
#if defined(IMPULSE_TSAN)
  std::mutex& HandoffLock() {
    static std::mutex locks[64];
    return locks[(reinterpret_cast<std::uintptr_t>(this) >> 4) % 64];
  }
#endif

  CompleteFn complete_;
};

// Room for one gRPC step of a call and for the post of its completion, reused
// by every step of a call that has at most one such step in flight (a
// stream's writes), so such a step allocates nothing of ours. A step that does
// not fit, or whose handler's executor is not an io_context's, uses the heap.
class StepStorage {
 public:
  static constexpr std::size_t kBytes = 192;

 private:
  template <typename>
  friend class HandlerOperation;
  alignas(std::max_align_t) unsigned char operation_[kBytes];
  alignas(std::max_align_t) unsigned char completion_[kBytes];
};

// Gives the one allocation of a completion's post the room of a StepStorage
// (the heap for anything that does not fit). Freeing the room only compares
// addresses: when Asio destroys a completion it never ran (io_context torn
// down), the room may already be gone with its call.
template <typename T>
class StepAllocator {
 public:
  using value_type = T;
  explicit StepAllocator(void* room) noexcept : room_(room) {}
  template <typename U>
  StepAllocator(const StepAllocator<U>& other) noexcept : room_(other.room_) {}

  T* allocate(std::size_t n) {
    if (n * sizeof(T) <= StepStorage::kBytes &&
        alignof(T) <= alignof(std::max_align_t)) {
      return static_cast<T*>(room_);
    }
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept {
    if (static_cast<void*>(p) != room_) ::operator delete(p);
  }
  bool operator==(const StepAllocator& other) const noexcept {
    return room_ == other.room_;
  }

 private:
  template <typename>
  friend class StepAllocator;
  void* room_;
};

// The io_context executor that keeps its context running (outstanding work).
using TrackedIoExecutor = std::decay_t<decltype(boost::asio::prefer(
    std::declval<boost::asio::io_context::executor_type>(),
    boost::asio::execution::outstanding_work.tracked))>;

// `executor` as a TrackedIoExecutor, or null when it wraps something else.
template <typename Executor>
const TrackedIoExecutor* AsTrackedIo(const Executor& executor) {
  if constexpr (std::is_same_v<Executor, TrackedIoExecutor>) {
    return &executor;
  } else if constexpr (requires {
                         executor.template target<TrackedIoExecutor>();
                       }) {
    return executor.template target<TrackedIoExecutor>();
  } else {
    return nullptr;
  }
}

// Holds an Asio completion handler `void(bool ok)` and keeps its executor's
// io_context alive (outstanding work) until the gRPC step completes.
template <typename Handler>
class HandlerOperation final : public Operation {
 public:
  // Whether an operation of this handler fits a StepStorage.
  static constexpr bool kFitsStorage =
      sizeof(HandlerOperation) <= StepStorage::kBytes &&
      alignof(HandlerOperation) <= alignof(std::max_align_t);

  // In `storage` when there is one with room, else on the heap.
  static HandlerOperation* Create(Handler handler, StepStorage* storage) {
    if (storage != nullptr && kFitsStorage) {
      return new (storage->operation_)
          HandlerOperation(std::move(handler), storage);
    }
    return new HandlerOperation(std::move(handler), nullptr);
  }

 private:
  HandlerOperation(Handler handler, StepStorage* storage)
      : Operation(&Do),
        handler_(std::move(handler)),
        work_(boost::asio::prefer(
            boost::asio::get_associated_executor(handler_),
            boost::asio::execution::outstanding_work.tracked)),
        storage_(storage) {}

  void Destroy() {
    if (storage_ != nullptr) {
      this->~HandlerOperation();
    } else {
      delete this;
    }
  }

  // Runs on the poller thread: hands the handler to its executor.
  static void Do(Operation* base, bool ok) {
    auto* self = static_cast<HandlerOperation*>(base);
    if (self->storage_ != nullptr) {
      if (const TrackedIoExecutor* io = AsTrackedIo(self->work_)) {
        boost::asio::require(
            *io, boost::asio::execution::blocking.never,
            boost::asio::execution::allocator(
                StepAllocator<void>(self->storage_->completion_)))
            .execute(Resume(self, ok));
        return;
      }
    }
    Handler handler = std::move(self->handler_);
    auto work = std::move(self->work_);
    self->Destroy();
    boost::asio::post(work, [handler = std::move(handler), ok]() mutable {
      std::move(handler)(ok);
    });
  }

  // The posted completion of an operation in a StepStorage: runs its handler
  // on an io thread, or (never run) destroys it with the operation.
  class Resume {
   public:
    Resume(HandlerOperation* op, bool ok) : op_(op), ok_(ok) {}
    Resume(Resume&& other) noexcept
        : op_(std::exchange(other.op_, nullptr)), ok_(other.ok_) {}
    Resume& operator=(Resume&&) = delete;
    ~Resume() {
      // Dropped unrun: the handler dies after the operation, since it may
      // own the call that holds the storage the operation lives in.
      if (op_ != nullptr) TakeHandler();
    }
    void operator()() { TakeHandler()(ok_); }

   private:
    // Ends the operation (freeing the storage for the handler's next step)
    // and returns its handler.
    Handler TakeHandler() {
      HandlerOperation* op = std::exchange(op_, nullptr);
      Handler handler = std::move(op->handler_);
      op->Destroy();
      return handler;
    }

    HandlerOperation* op_;
    bool ok_;
  };

  Handler handler_;
  std::decay_t<decltype(boost::asio::prefer(
      std::declval<boost::asio::associated_executor_t<Handler>>(),
      boost::asio::execution::outstanding_work.tracked))>
      work_;
  StepStorage* const storage_;
};

// Starts one gRPC step: `start(tag)` must hand `tag` to exactly one gRPC async
// call, or return false without handing it over. Completes with `bool ok`
// (false: the call ended, was cancelled, the server is shutting down or
// `start` declined; a normal outcome, not an error). With `storage`, the step
// lives in it (see StepStorage): the caller has no other step using it in
// flight.
template <typename CompletionToken, typename StartFn>
auto AsyncGrpc(StartFn start, CompletionToken&& token,
               StepStorage* storage = nullptr) {
  return boost::asio::async_initiate<CompletionToken, void(bool)>(
      [](auto handler, StartFn start, StepStorage* storage) {
        using H = std::decay_t<decltype(handler)>;
        auto* op = HandlerOperation<H>::Create(std::move(handler), storage);
        if (!op->Start(start)) op->Complete(false);
      },
      token, std::move(start), storage);
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

// `storage`: see AsyncGrpc (a stream's one write in flight).
template <typename Message, typename CompletionToken>
auto Write(grpc::ServerAsyncWriter<Message>& writer, const Message& message,
           CompletionToken&& token, StepStorage* storage = nullptr) {
  return AsyncGrpc(
      [&writer, &message](void* tag) { writer.Write(message, tag); },
      std::forward<CompletionToken>(token), storage);
}

// The last message and the status in one step (one completion instead of
// two). Completes with false when the call ended first.
template <typename Message, typename CompletionToken>
auto WriteAndFinish(grpc::ServerAsyncWriter<Message>& writer,
                    const Message& message, const grpc::Status& status,
                    CompletionToken&& token, StepStorage* storage = nullptr) {
  return AsyncGrpc(
      [&writer, &message, status](void* tag) {
        writer.WriteAndFinish(message, grpc::WriteOptions(), status, tag);
      },
      std::forward<CompletionToken>(token), storage);
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
