// The gRPC CompletionQueue <-> Asio bridge, thread side: one thread that only
// takes tags off the queue and completes their Operation (which posts the
// waiting handler to its io_context). It never runs handler bodies or compute.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <thread>

namespace impulse::grpc_bridge {

class CompletionQueuePoller {
 public:
  explicit CompletionQueuePoller(
      std::unique_ptr<grpc::ServerCompletionQueue> cq);
  // Shuts the queue down and drains it (call after grpc::Server::Shutdown).
  ~CompletionQueuePoller();

  grpc::ServerCompletionQueue* cq() { return cq_.get(); }
  void Start();
  // CompletionQueue::Shutdown, then wait until Next() has drained every tag:
  // each pending Operation completes with ok=false and is destroyed.
  void ShutdownAndDrain();

 private:
  void Loop();

  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::thread thread_;
  bool shut_down_ = false;
};

}  // namespace impulse::grpc_bridge
