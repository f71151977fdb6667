#include "server/metrics/monitor.h"

#include <algorithm>
#include <deque>
#include <map>
#include <utility>

namespace impulse::metrics {
namespace internal {

// Subscribers' mailboxes and the dispatcher thread that drains them.
class MonitorHub {
 public:
  explicit MonitorHub(std::size_t max_pending)
      : max_pending_(max_pending == 0 ? 1 : max_pending) {
    thread_ = std::thread([this] { Run(); });
  }
  ~MonitorHub() { Shutdown(); }

  std::uint64_t Add(Monitor::Callback callback) {
    std::lock_guard lock(mu_);
    auto sub = std::make_shared<Sub>();
    sub->callback = std::move(callback);
    if (latest_ && !stop_) {
      sub->mailbox.push_back(latest_);
      ++pending_;
      wake_.notify_one();
    }
    const std::uint64_t id = next_id_++;
    subs_.emplace(id, std::move(sub));
    return id;
  }

  void Remove(std::uint64_t id) {
    Monitor::Callback dead;
    {
      std::unique_lock lock(mu_);
      auto it = subs_.find(id);
      if (it == subs_.end()) return;
      std::shared_ptr<Sub> sub = std::move(it->second);
      subs_.erase(it);
      sub->removed = true;
      pending_ -= sub->mailbox.size();
      sub->mailbox.clear();
      if (std::this_thread::get_id() == thread_id_) {
        // Called from inside a callback (maybe this one): the dispatcher
        // drops the callback once it returns.
        return;
      }
      idle_.wait(lock, [&] { return !sub->running; });
      dead = std::move(sub->callback);
    }
    // `dead` (and whatever it captured) is destroyed here, outside the lock.
  }

  void Publish(std::shared_ptr<const MonitorUpdate> update) {
    {
      std::lock_guard lock(mu_);
      latest_ = update;
      if (stop_) return;
      for (auto& [id, sub] : subs_) {
        sub->mailbox.push_back(update);
        ++pending_;
        if (sub->mailbox.size() > max_pending_) {
          // Drop the oldest update that carries no alert event.
          auto victim = sub->mailbox.begin();
          while (victim != sub->mailbox.end() && (*victim)->alert) ++victim;
          if (victim == sub->mailbox.end()) victim = sub->mailbox.begin();
          sub->mailbox.erase(victim);
          --pending_;
          ++sub->dropped;
        }
      }
    }
    wake_.notify_one();
  }

  void Shutdown() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
      if (std::this_thread::get_id() == thread_.get_id()) {
        thread_.detach();
      } else {
        thread_.join();
      }
    }
    std::map<std::uint64_t, std::shared_ptr<Sub>> subs;
    {
      std::lock_guard lock(mu_);
      subs.swap(subs_);
      pending_ = 0;
    }
    // Callbacks are destroyed here, outside the lock.
  }

  std::shared_ptr<const MonitorUpdate> latest() const {
    std::lock_guard lock(mu_);
    return latest_;
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return subs_.size();
  }

  std::uint64_t dropped(std::uint64_t id) const {
    std::lock_guard lock(mu_);
    auto it = subs_.find(id);
    return it == subs_.end() ? 0 : it->second->dropped;
  }

 private:
  struct Sub {
    Monitor::Callback callback;
    std::deque<std::shared_ptr<const MonitorUpdate>> mailbox;
    bool running = false;
    bool removed = false;
    std::uint64_t dropped = 0;
  };

  void Run() {
    std::unique_lock lock(mu_);
    thread_id_ = std::this_thread::get_id();
    while (true) {
      wake_.wait(lock, [&] { return stop_ || pending_ > 0; });
      if (stop_) return;
      std::vector<std::shared_ptr<Sub>> ready;
      for (auto& [id, sub] : subs_) {
        if (!sub->mailbox.empty()) ready.push_back(sub);
      }
      // One update per subscriber per pass, so the subscribers share the
      // dispatcher fairly.
      for (auto& sub : ready) {
        if (stop_) return;
        if (sub->removed || sub->mailbox.empty()) continue;
        std::shared_ptr<const MonitorUpdate> update =
            std::move(sub->mailbox.front());
        sub->mailbox.pop_front();
        --pending_;
        sub->running = true;
        lock.unlock();
        try {
          sub->callback(*update);
        } catch (...) {
          // A throwing subscriber must not take the dispatcher down.
        }
        update.reset();
        lock.lock();
        sub->running = false;
        Monitor::Callback dead;
        if (sub->removed) dead = std::move(sub->callback);
        idle_.notify_all();
        if (dead) {
          lock.unlock();
          dead = nullptr;
          lock.lock();
        }
      }
    }
  }

  const std::size_t max_pending_;
  mutable std::mutex mu_;
  std::condition_variable wake_;  // dispatcher: work or stop
  std::condition_variable idle_;  // Remove(): a callback returned
  std::map<std::uint64_t, std::shared_ptr<Sub>> subs_;
  std::shared_ptr<const MonitorUpdate> latest_;
  std::uint64_t next_id_ = 1;
  std::size_t pending_ = 0;
  bool stop_ = false;
  std::thread::id thread_id_;
  std::thread thread_;
};

}  // namespace internal

// ----------------------------------------------------------- subscription

Subscription::Subscription(Subscription&& other) noexcept
    : hub_(std::move(other.hub_)), id_(std::exchange(other.id_, 0)) {}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    hub_ = std::move(other.hub_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void Subscription::Reset() {
  if (id_ == 0) return;
  if (auto hub = hub_.lock()) hub->Remove(id_);
  hub_.reset();
  id_ = 0;
}

std::uint64_t Subscription::dropped() const {
  if (id_ == 0) return 0;
  auto hub = hub_.lock();
  return hub ? hub->dropped(id_) : 0;
}

// ---------------------------------------------------------------- monitor

Monitor::Monitor(Options options, SamplerSources sources)
    : options_(std::move(options)),
      hub_(std::make_shared<internal::MonitorHub>(
          options_.max_pending_per_subscriber)),
      sampler_(std::move(sources)),
      total_avg_(options_.window),
      alert_(options_.alert) {}

Monitor::~Monitor() {
  Stop();
  hub_->Shutdown();
}

void Monitor::Start() {
  std::lock_guard lock(thread_mu_);
  if (thread_.joinable()) return;
  stop_requested_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Monitor::Stop() {
  std::thread t;
  {
    std::lock_guard lock(thread_mu_);
    if (!thread_.joinable()) return;
    stop_requested_ = true;
    t = std::move(thread_);
  }
  thread_cv_.notify_all();
  t.join();
}

bool Monitor::running() const {
  std::lock_guard lock(thread_mu_);
  return thread_.joinable();
}

void Monitor::Loop() {
  using Clock = std::chrono::steady_clock;
  const Clock::duration interval = std::max<Clock::duration>(
      options_.interval, std::chrono::milliseconds(1));
  Clock::time_point next = Clock::now();
  std::unique_lock lock(thread_mu_);
  while (!stop_requested_) {
    lock.unlock();
    try {
      SampleNow();
    } catch (...) {
      // A failing source skips this tick.
    }
    lock.lock();
    next += interval;
    const Clock::time_point now = Clock::now();
    if (next < now) next = now;  // fell behind: skip the missed ticks
    thread_cv_.wait_until(lock, next, [&] { return stop_requested_; });
  }
}

MonitorUpdate Monitor::SampleNow() {
  std::lock_guard lock(sample_mu_);
  auto update = std::make_shared<MonitorUpdate>();
  update->sample = sampler_.Sample();
  const SystemSample& s = update->sample;
  update->seq = ++seq_;
  update->avg_total_load = total_avg_.Add(s.total_load);
  update->window_samples = total_avg_.size();
  if (core_avg_.size() != s.core_load.size()) {
    // The set of cores changed (or first sample): restart the per-core means.
    core_avg_.assign(s.core_load.size(), MovingAverage(options_.window));
  }
  update->avg_core_load.resize(s.core_load.size());
  for (std::size_t i = 0; i < s.core_load.size(); ++i) {
    update->avg_core_load[i] = core_avg_[i].Add(s.core_load[i]);
  }

  const std::optional<AlertDetector::Clock::time_point> above_since =
      alert_.above_since();
  const AlertTransition t =
      alert_.Update(update->avg_total_load, s.steady_time);
  if (t != AlertTransition::kNone) {
    AlertEvent e;
    e.time = s.time;
    e.load = update->avg_total_load;
    e.threshold = options_.alert.threshold;
    if (t == AlertTransition::kRaised) {
      e.kind = AlertEvent::Kind::kRaised;
      e.duration = s.steady_time - above_since.value_or(s.steady_time);
      alert_raised_at_ = s.steady_time;
    } else {
      e.kind = AlertEvent::Kind::kCleared;
      e.duration = s.steady_time - alert_raised_at_;
    }
    update->alert = e;
  }
  update->alert_active = alert_.active();

  hub_->Publish(update);
  return *update;
}

Subscription Monitor::Subscribe(Callback callback) {
  const std::uint64_t id = hub_->Add(std::move(callback));
  return Subscription(hub_, id);
}

std::optional<MonitorUpdate> Monitor::Latest() const {
  if (auto latest = hub_->latest()) return *latest;
  return std::nullopt;
}

std::size_t Monitor::subscriber_count() const { return hub_->size(); }

}  // namespace impulse::metrics
