#include "server/grpc/completion_queue_poller.h"

#include <pthread.h>

#include "server/grpc/grpc_operation.h"

namespace impulse::grpc_bridge {

CompletionQueuePoller::CompletionQueuePoller(
    std::unique_ptr<grpc::ServerCompletionQueue> cq)
    : cq_(std::move(cq)) {}

CompletionQueuePoller::~CompletionQueuePoller() { ShutdownAndDrain(); }

void CompletionQueuePoller::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "grpc-cq");
    Loop();
  });
}

void CompletionQueuePoller::Loop() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) static_cast<Operation*>(tag)->Complete(ok);
}

void CompletionQueuePoller::ShutdownAndDrain() {
  if (shut_down_) return;
  shut_down_ = true;
  cq_->Shutdown();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    Loop();  // never started: drain here
  }
}

}  // namespace impulse::grpc_bridge
