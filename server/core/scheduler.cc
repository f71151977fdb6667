#include "server/core/scheduler.h"

#include <oneapi/tbb/info.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace impulse::core {
namespace {

int ResolveThreads(int requested) {
  return requested > 0 ? requested : tbb::info::default_concurrency();
}

}  // namespace

bool Scheduler::Order::operator()(const std::shared_ptr<JobRecord>& a,
                                  const std::shared_ptr<JobRecord>& b) const {
  if (a->spec().priority() != b->spec().priority()) {
    return a->spec().priority() > b->spec().priority();
  }
  return a->ordinal() < b->ordinal();
}

Scheduler::Scheduler(Options options, RunFn run)
    : cpu_threads_(ResolveThreads(options.cpu_threads)),
      max_running_(options.max_running > 0
                       ? options.max_running
                       : static_cast<std::size_t>(cpu_threads_)),
      max_queued_(options.max_queued),
      max_running_gpu_(options.max_running_gpu),
      run_(std::move(run)),
      arena_(cpu_threads_) {}

Scheduler::~Scheduler() {
  std::unique_lock lock(mu_);
  paused_ = true;
  idle_cv_.wait(lock, [this] { return running_ + running_gpu_ == 0; });
}

Status Scheduler::Enqueue(std::shared_ptr<JobRecord> job, bool on_gpu) {
  std::lock_guard lock(mu_);
  if (queue_.size() + gpu_queue_.size() >= max_queued_) {
    return Error{ErrorCode::kResourceExhausted,
                 "the queue is full (" + std::to_string(max_queued_) +
                     " jobs); retry later",
                 ""};
  }
  (on_gpu ? gpu_queue_ : queue_).insert(std::move(job));
  PumpLocked();
  return {};
}

void Scheduler::EnqueueUnbounded(std::shared_ptr<JobRecord> job, bool on_gpu) {
  std::lock_guard lock(mu_);
  (on_gpu ? gpu_queue_ : queue_).insert(std::move(job));
  PumpLocked();
}

bool Scheduler::Remove(const JobRecord& job) {
  std::lock_guard lock(mu_);
  for (Queue* queue : {&queue_, &gpu_queue_}) {
    for (auto it = queue->begin(); it != queue->end(); ++it) {
      if (it->get() == &job) {
        queue->erase(it);
        return true;
      }
    }
  }
  return false;
}

void Scheduler::Pause() {
  std::lock_guard lock(mu_);
  paused_ = true;
}

bool Scheduler::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_until(lock, deadline,
                             [this] { return running_ + running_gpu_ == 0; });
}

std::size_t Scheduler::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size() + gpu_queue_.size();
}

std::size_t Scheduler::running() const {
  std::lock_guard lock(mu_);
  return running_ + running_gpu_;
}

std::size_t Scheduler::running_gpu() const {
  std::lock_guard lock(mu_);
  return running_gpu_;
}

void Scheduler::PumpLocked() {
  while (!paused_ && running_ < max_running_ && !queue_.empty()) {
    std::shared_ptr<JobRecord> job = *queue_.begin();
    queue_.erase(queue_.begin());
    ++running_;
    arena_.enqueue([this, job = std::move(job)] {
      tbb::this_task_arena::isolate([&] { run_(job); });
      OnFinished(/*on_gpu=*/false);
    });
  }
  while (!paused_ && running_gpu_ < max_running_gpu_ && !gpu_queue_.empty()) {
    std::shared_ptr<JobRecord> job = *gpu_queue_.begin();
    gpu_queue_.erase(gpu_queue_.begin());
    ++running_gpu_;
    std::thread([this, job = std::move(job)] {
      pthread_setname_np(pthread_self(), "gpu-job");
      run_(job);
      OnFinished(/*on_gpu=*/true);
    }).detach();
  }
}

void Scheduler::OnFinished(bool on_gpu) {
  std::lock_guard lock(mu_);
  --(on_gpu ? running_gpu_ : running_);
  PumpLocked();
  if (running_ + running_gpu_ == 0) idle_cv_.notify_all();
}

}  // namespace impulse::core
