#include "server/core/scheduler.h"

#include <oneapi/tbb/info.h>

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
      run_(std::move(run)),
      arena_(cpu_threads_) {}

Scheduler::~Scheduler() {
  std::unique_lock lock(mu_);
  paused_ = true;
  idle_cv_.wait(lock, [this] { return running_ == 0; });
}

Status Scheduler::Enqueue(std::shared_ptr<JobRecord> job) {
  std::lock_guard lock(mu_);
  if (queue_.size() >= max_queued_) {
    return Error{ErrorCode::kResourceExhausted,
                 "the queue is full (" + std::to_string(max_queued_) +
                     " jobs); retry later",
                 ""};
  }
  queue_.insert(std::move(job));
  PumpLocked();
  return {};
}

void Scheduler::EnqueueUnbounded(std::shared_ptr<JobRecord> job) {
  std::lock_guard lock(mu_);
  queue_.insert(std::move(job));
  PumpLocked();
}

bool Scheduler::Remove(const JobRecord& job) {
  std::lock_guard lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->get() == &job) {
      queue_.erase(it);
      return true;
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
  return idle_cv_.wait_until(lock, deadline, [this] { return running_ == 0; });
}

std::size_t Scheduler::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::size_t Scheduler::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

void Scheduler::PumpLocked() {
  while (!paused_ && running_ < max_running_ && !queue_.empty()) {
    std::shared_ptr<JobRecord> job = *queue_.begin();
    queue_.erase(queue_.begin());
    ++running_;
    arena_.enqueue([this, job = std::move(job)] {
      tbb::this_task_arena::isolate([&] { run_(job); });
      OnFinished();
    });
  }
}

void Scheduler::OnFinished() {
  std::lock_guard lock(mu_);
  --running_;
  PumpLocked();
  if (running_ == 0) idle_cv_.notify_all();
}

}  // namespace impulse::core
