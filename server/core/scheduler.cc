#include "server/core/scheduler.h"

#include <oneapi/tbb/info.h>
#include <pthread.h>

#include <string>
#include <thread>

#include "server/core/tbb_handoff.h"

namespace impulse::core {
namespace {

int ResolveThreads(int requested) {
  return requested > 0 ? requested : tbb::info::default_concurrency();
}

// What fair share looks at for a tenant's best queued job.
struct Share {
  std::size_t running = 0;   // the tenant's running jobs
  std::uint64_t served = 0;  // jobs it started since it was last idle
};

// Between two tenants' best queued jobs: higher priority first, then the
// tenant running fewer jobs, then the one served less (turns even with one
// slot), then the older job.
bool RunsBefore(const JobRecord& a, Share a_share, const JobRecord& b,
                Share b_share) {
  if (a.spec().priority() != b.spec().priority()) {
    return a.spec().priority() > b.spec().priority();
  }
  if (a_share.running != b_share.running) {
    return a_share.running < b_share.running;
  }
  if (a_share.served != b_share.served) return a_share.served < b_share.served;
  return a.ordinal() < b.ordinal();
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
      max_queued_per_tenant_(options.max_queued_per_tenant),
      max_running_per_tenant_(options.max_running_per_tenant),
      run_(std::move(run)),
      parallelism_(tbb::global_control::max_allowed_parallelism,
                   static_cast<std::size_t>(cpu_threads_)),
      arena_(cpu_threads_, /*reserved_for_masters=*/1) {
  runners_.reserve(max_running_);
  for (std::size_t i = 0; i < max_running_; ++i) {
    runners_.emplace_back([this] { RunCpuJobs(); });
  }
}

Scheduler::~Scheduler() {
  {
    std::unique_lock lock(mu_);
    paused_ = true;
    idle_cv_.wait(lock, [this] { return running_ + running_gpu_ == 0; });
    stopping_ = true;
  }
  ready_cv_.notify_all();
  for (std::thread& runner : runners_) runner.join();
}

void Scheduler::RunCpuJobs() {
  pthread_setname_np(pthread_self(), "cpu-job");
  std::unique_lock lock(mu_);
  while (true) {
    ready_cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (ready_.empty()) return;  // stopping, and nothing left to run
    std::shared_ptr<JobRecord> job = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    ExecuteInArena(arena_,
                   [&] { tbb::this_task_arena::isolate([&] { run_(job); }); });
    const std::string tenant = job->tenant();
    job.reset();
    lock.lock();
    // This runner takes one of the jobs made ready; wake others for the rest.
    for (std::size_t n = FinishedLocked(/*on_gpu=*/false, tenant); n > 1; --n) {
      ready_cv_.notify_one();
    }
  }
}

Status Scheduler::Enqueue(std::shared_ptr<JobRecord> job, bool on_gpu) {
  std::lock_guard lock(mu_);
  if (queue_.size + gpu_queue_.size >= max_queued_) {
    return Error{ErrorCode::kResourceExhausted,
                 "the queue is full (" + std::to_string(max_queued_) +
                     " jobs); retry later",
                 ""};
  }
  if (max_queued_per_tenant_ > 0) {
    const std::string& tenant = job->tenant();
    std::size_t queued = 0;
    for (const Lane* lane : {&queue_, &gpu_queue_}) {
      auto it = lane->by_tenant.find(tenant);
      if (it != lane->by_tenant.end()) queued += it->second.size();
    }
    if (queued >= max_queued_per_tenant_) {
      return Error{ErrorCode::kResourceExhausted,
                   (tenant.empty() ? std::string("this server")
                                   : "tenant '" + tenant + "'") +
                       " already has " + std::to_string(queued) +
                       " queued jobs, the most allowed per tenant "
                       "(--tenant_max_queued); retry when some have started",
                   ""};
    }
  }
  Insert(on_gpu ? gpu_queue_ : queue_, std::move(job));
  for (std::size_t n = PumpLocked(); n > 0; --n) ready_cv_.notify_one();
  return {};
}

void Scheduler::EnqueueUnbounded(std::shared_ptr<JobRecord> job, bool on_gpu) {
  std::lock_guard lock(mu_);
  Insert(on_gpu ? gpu_queue_ : queue_, std::move(job));
  for (std::size_t n = PumpLocked(); n > 0; --n) ready_cv_.notify_one();
}

void Scheduler::Insert(Lane& lane, std::shared_ptr<JobRecord> job) {
  const std::string tenant = job->tenant();
  if (lane.by_tenant[tenant].insert(std::move(job)).second) ++lane.size;
}

bool Scheduler::Remove(const JobRecord& job) {
  std::lock_guard lock(mu_);
  for (Lane* lane : {&queue_, &gpu_queue_}) {
    auto queue = lane->by_tenant.find(job.tenant());
    if (queue == lane->by_tenant.end()) continue;
    for (auto it = queue->second.begin(); it != queue->second.end(); ++it) {
      if (it->get() == &job) {
        queue->second.erase(it);
        --lane->size;
        if (queue->second.empty()) lane->by_tenant.erase(queue);
        ForgetIfIdleLocked(job.tenant());
        return true;
      }
    }
  }
  return false;
}

std::shared_ptr<JobRecord> Scheduler::PopLocked(Lane& lane) {
  // Each tenant's best job competes (RunsBefore); tenants at their running
  // cap wait.
  auto best = lane.by_tenant.end();
  Share best_share;
  for (auto it = lane.by_tenant.begin(); it != lane.by_tenant.end(); ++it) {
    Share share;
    if (auto r = running_by_tenant_.find(it->first);
        r != running_by_tenant_.end()) {
      share.running = r->second;
    }
    if (max_running_per_tenant_ > 0 &&
        share.running >= max_running_per_tenant_) {
      continue;
    }
    if (auto s = served_by_tenant_.find(it->first);
        s != served_by_tenant_.end()) {
      share.served = s->second;
    }
    if (best == lane.by_tenant.end() ||
        RunsBefore(**it->second.begin(), share, **best->second.begin(),
                   best_share)) {
      best = it;
      best_share = share;
    }
  }
  if (best == lane.by_tenant.end()) return nullptr;
  std::shared_ptr<JobRecord> job = *best->second.begin();
  best->second.erase(best->second.begin());
  --lane.size;
  if (best->second.empty()) lane.by_tenant.erase(best);
  ++running_by_tenant_[job->tenant()];
  ++served_by_tenant_[job->tenant()];
  return job;
}

Scheduler::NameWorkers::NameWorkers(tbb::task_arena& arena)
    : tbb::task_scheduler_observer(arena) {
  observe(true);
}

Scheduler::NameWorkers::~NameWorkers() { observe(false); }

void Scheduler::NameWorkers::on_scheduler_entry(bool is_worker) {
  // Workers enter the arena again after each idle spell: name them once.
  thread_local bool named = false;
  if (is_worker && !named) {
    pthread_setname_np(pthread_self(), "cpu-pool");
    named = true;
  }
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
  return queue_.size + gpu_queue_.size;
}

std::size_t Scheduler::queued(const std::string& tenant) const {
  std::lock_guard lock(mu_);
  std::size_t queued = 0;
  for (const Lane* lane : {&queue_, &gpu_queue_}) {
    auto it = lane->by_tenant.find(tenant);
    if (it != lane->by_tenant.end()) queued += it->second.size();
  }
  return queued;
}

std::size_t Scheduler::running(const std::string& tenant) const {
  std::lock_guard lock(mu_);
  auto it = running_by_tenant_.find(tenant);
  return it == running_by_tenant_.end() ? 0 : it->second;
}

std::size_t Scheduler::running() const {
  std::lock_guard lock(mu_);
  return running_ + running_gpu_;
}

std::size_t Scheduler::running_gpu() const {
  std::lock_guard lock(mu_);
  return running_gpu_;
}

std::size_t Scheduler::PumpLocked() {
  std::size_t made_ready = 0;
  while (!paused_ && running_ < max_running_) {
    std::shared_ptr<JobRecord> job = PopLocked(queue_);
    if (job == nullptr) break;
    ++running_;
    ready_.push_back(std::move(job));
    ++made_ready;
  }
  while (!paused_ && running_gpu_ < max_running_gpu_) {
    std::shared_ptr<JobRecord> job = PopLocked(gpu_queue_);
    if (job == nullptr) break;
    ++running_gpu_;
    std::thread([this, job = std::move(job)] {
      pthread_setname_np(pthread_self(), "gpu-job");
      run_(job);
      std::lock_guard lock(mu_);
      for (std::size_t n = FinishedLocked(/*on_gpu=*/true, job->tenant());
           n > 0; --n) {
        ready_cv_.notify_one();
      }
    }).detach();
  }
  return made_ready;
}

void Scheduler::ForgetIfIdleLocked(const std::string& tenant) {
  if (running_by_tenant_.contains(tenant) ||
      queue_.by_tenant.contains(tenant) ||
      gpu_queue_.by_tenant.contains(tenant)) {
    return;
  }
  served_by_tenant_.erase(tenant);
}

std::size_t Scheduler::FinishedLocked(bool on_gpu, const std::string& tenant) {
  --(on_gpu ? running_gpu_ : running_);
  auto it = running_by_tenant_.find(tenant);
  if (it != running_by_tenant_.end() && --it->second == 0) {
    running_by_tenant_.erase(it);
  }
  ForgetIfIdleLocked(tenant);
  const std::size_t made_ready = PumpLocked();
  if (running_ + running_gpu_ == 0) idle_cv_.notify_all();
  return made_ready;
}

}  // namespace impulse::core
