// A list of parked Asio completion handlers that another thread can wake. Used
// by watchers waiting for a job's next event: a compute thread appends an event
// and wakes them, and each resumes on its own executor (an io_context thread).
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace impulse::core {

class WaiterList {
 public:
  // A type-erased parked handler that knows how to post itself to its own
  // executor (Boost 1.81's any_completion_handler cannot be posted).
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void Post() = 0;
  };

  // Parks the caller until the next WakeAll(). `still_waiting` runs under the
  // list's lock; when it returns false the handler completes at once (this
  // closes the race between checking a condition and parking).
  template <typename Predicate, typename CompletionToken>
  auto AsyncWait(Predicate still_waiting, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void()>(
        [this, still_waiting](auto handler) {
          auto parked = std::make_unique<ParkedHandler<decltype(handler)>>(
              std::move(handler));
          std::unique_lock lock(mu_);
          if (!still_waiting()) {
            lock.unlock();
            parked->Post();
            return;
          }
          waiters_.push_back(std::move(parked));
        },
        token);
  }

  // Wakes every parked waiter. Safe from any thread.
  void WakeAll();

  // Runs `fn` under the list's lock (to change the condition waiters check).
  template <typename Fn>
  auto Locked(Fn&& fn) {
    std::lock_guard lock(mu_);
    return fn();
  }

 private:
  // Always posts: the waker may be a compute or poller thread, and a handler
  // must resume on its own executor, never inline on the waker's stack.
  template <typename H>
  class ParkedHandler final : public Handler {
   public:
    explicit ParkedHandler(H handler) : handler_(std::move(handler)) {}
    void Post() override {
      auto executor = boost::asio::get_associated_executor(handler_);
      boost::asio::post(executor, std::move(handler_));
    }

   private:
    H handler_;
  };

  std::mutex mu_;
  std::vector<std::unique_ptr<Handler>> waiters_;
};

}  // namespace impulse::core
