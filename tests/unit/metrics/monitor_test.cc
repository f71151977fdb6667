#include "server/metrics/monitor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "tests/unit/metrics/fake_proc.h"

namespace impulse::metrics {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;
using testing::FakeProcStat;

// Collects updates and lets a test wait for a count.
class Collector {
 public:
  void operator()(const MonitorUpdate& u) {
    std::lock_guard lock(mu_);
    updates_.push_back(u);
    cv_.notify_all();
  }
  bool WaitFor(std::size_t n, milliseconds timeout = milliseconds(5000)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return updates_.size() >= n; });
  }
  std::vector<MonitorUpdate> updates() const {
    std::lock_guard lock(mu_);
    return updates_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<MonitorUpdate> updates_;
};

struct Fixture {
  FakeProcStat proc{2};
  FakeClock clock;

  SamplerSources Sources() {
    SamplerSources s;
    s.read_proc_stat = [this] { return proc.Text(); };
    s.read_meminfo = [] { return std::string(testing::kFakeMeminfo); };
    s.steady_now = [this] { return clock.Now(); };
    return s;
  }
  // One 100 ms step at `load`, then a sample.
  MonitorUpdate Step(Monitor& m, double load) {
    proc.Advance(load);
    clock.Advance(milliseconds(100));
    return m.SampleNow();
  }
};

Monitor::Options Opts(std::size_t window, double threshold, milliseconds hold,
                      std::size_t max_pending = 64) {
  Monitor::Options o;
  o.window = window;
  o.alert.threshold = threshold;
  o.alert.hold = hold;
  o.max_pending_per_subscriber = max_pending;
  return o;
}

TEST(MonitorTest, SampleNowAveragesOverTheWindow) {
  Fixture f;
  Monitor m(Opts(3, 0.9, milliseconds(1000)), f.Sources());
  EXPECT_FALSE(m.Latest().has_value());
  f.proc.Advance({0.2, 0.4});
  f.clock.Advance(milliseconds(100));
  MonitorUpdate u = m.SampleNow();
  EXPECT_EQ(u.seq, 1u);
  EXPECT_DOUBLE_EQ(u.sample.total_load, 0.3);
  EXPECT_DOUBLE_EQ(u.avg_total_load, 0.3);
  ASSERT_EQ(u.avg_core_load.size(), 2u);
  EXPECT_DOUBLE_EQ(u.avg_core_load[1], 0.4);
  EXPECT_EQ(u.window_samples, 1u);
  f.Step(m, 0.6);
  f.Step(m, 0.9);
  u = f.Step(m, 0.0);  // window {0.6, 0.9, 0.0}
  EXPECT_EQ(u.seq, 4u);
  EXPECT_DOUBLE_EQ(u.avg_total_load, 0.5);
  EXPECT_DOUBLE_EQ(u.avg_core_load[0], 0.5);
  EXPECT_EQ(u.window_samples, 3u);
  EXPECT_FALSE(u.alert_active);
  EXPECT_EQ(u.sample.mem_total_bytes, 8000000ull * 1024);
  ASSERT_TRUE(m.Latest().has_value());
  EXPECT_EQ(m.Latest()->seq, 4u);
}

TEST(MonitorTest, AlertRaisedAfterHoldAndClearedOnce) {
  Fixture f;
  Monitor m(Opts(2, 0.8, milliseconds(300)), f.Sources());
  Collector got;
  Subscription sub = m.Subscribe(std::ref(got));
  std::vector<double> loads;
  for (int i = 0; i < 10; ++i) loads.push_back(0.95);
  for (int i = 0; i < 6; ++i) loads.push_back(0.1);
  std::vector<MonitorUpdate> direct;
  for (double l : loads) direct.push_back(f.Step(m, l));
  ASSERT_TRUE(got.WaitFor(loads.size()));

  for (const auto& updates : {direct, got.updates()}) {
    int raised = 0, cleared = 0;
    for (const auto& u : updates) {
      if (!u.alert) continue;
      if (u.alert->kind == AlertEvent::Kind::kRaised) {
        ++raised;
        // Average > 0.8 from sample 1 (t=100ms); raised 300 ms later.
        EXPECT_EQ(u.seq, 4u);
        EXPECT_EQ(u.alert->duration, milliseconds(300));
        EXPECT_DOUBLE_EQ(u.alert->threshold, 0.8);
        EXPECT_GT(u.alert->load, 0.8);
      } else {
        ++cleared;
        // Window of 2: {0.95, 0.1} averages 0.525 at seq 11.
        EXPECT_EQ(u.seq, 11u);
        EXPECT_EQ(u.alert->duration, milliseconds(700));
      }
      EXPECT_EQ(u.alert_active, u.alert->kind == AlertEvent::Kind::kRaised);
    }
    EXPECT_EQ(raised, 1);
    EXPECT_EQ(cleared, 1);
  }
}

TEST(MonitorTest, SubscribersGetUpdatesInOrderStartingWithLatest) {
  Fixture f;
  Monitor m(Opts(4, 0.9, milliseconds(1000)), f.Sources());
  f.Step(m, 0.5);
  Collector a, b;
  Subscription sa = m.Subscribe(std::ref(a));
  Subscription sb = m.Subscribe(std::ref(b));
  EXPECT_EQ(m.subscriber_count(), 2u);
  for (int i = 0; i < 20; ++i) f.Step(m, 0.5);
  ASSERT_TRUE(a.WaitFor(21));
  ASSERT_TRUE(b.WaitFor(21));
  for (const Collector* c : {&a, &b}) {
    const auto updates = c->updates();
    ASSERT_EQ(updates.size(), 21u);
    for (std::size_t i = 0; i < updates.size(); ++i) {
      EXPECT_EQ(updates[i].seq, i + 1);
    }
  }
  EXPECT_EQ(sa.dropped(), 0u);
}

TEST(MonitorTest, SlowSubscriberNeverBlocksSampling) {
  Fixture f;
  Monitor m(Opts(4, 0.5, milliseconds(0), /*max_pending=*/8), f.Sources());
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<MonitorUpdate> slow_got;
  Subscription slow = m.Subscribe([&](const MonitorUpdate& u) {
    if (calls++ == 0) released.wait();  // stuck until the test says so
    std::lock_guard lock(mu);
    slow_got.push_back(u);
  });

  const auto start = std::chrono::steady_clock::now();
  // One alert episode in the middle of 300 samples.
  for (int i = 0; i < 300; ++i) f.Step(m, i >= 100 && i < 110 ? 0.9 : 0.1);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
  EXPECT_EQ(m.Latest()->seq, 300u);
  EXPECT_GT(slow.dropped(), 250u);

  release.set_value();
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mu);
      if (!slow_got.empty() && slow_got.back().seq == 300) break;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  std::lock_guard lock(mu);
  ASSERT_FALSE(slow_got.empty());
  EXPECT_EQ(slow_got.back().seq, 300u);
  EXPECT_LE(slow_got.size(), 8u + 1u);  // the stuck one plus a full mailbox
  // The alert events survived the overflow.
  int raised = 0, cleared = 0;
  for (const auto& u : slow_got) {
    if (u.alert) {
      (u.alert->kind == AlertEvent::Kind::kRaised ? raised : cleared)++;
    }
  }
  EXPECT_EQ(raised, 1);
  EXPECT_EQ(cleared, 1);
}

TEST(MonitorTest, ResetWaitsForARunningCallbackAndStopsDelivery) {
  Fixture f;
  Monitor m(Opts(4, 0.9, milliseconds(1000)), f.Sources());
  std::promise<void> entered;
  std::atomic<bool> finished{false};
  std::atomic<int> calls{0};
  Subscription sub = m.Subscribe([&](const MonitorUpdate&) {
    if (calls++ == 0) {
      entered.set_value();
      std::this_thread::sleep_for(milliseconds(200));
      finished = true;
    }
  });
  f.Step(m, 0.5);
  entered.get_future().wait();
  sub.Reset();
  EXPECT_TRUE(finished.load());  // Reset returned after the callback did
  EXPECT_FALSE(sub);
  EXPECT_EQ(m.subscriber_count(), 0u);
  for (int i = 0; i < 10; ++i) f.Step(m, 0.5);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(calls.load(), 1);
}

TEST(MonitorTest, UnsubscribeFromInsideTheCallback) {
  Fixture f;
  Monitor m(Opts(4, 0.9, milliseconds(1000)), f.Sources());
  std::atomic<int> calls{0};
  Subscription sub;
  std::promise<void> done;
  sub = m.Subscribe([&](const MonitorUpdate&) {
    if (calls++ == 0) {
      sub.Reset();
      done.set_value();
    }
  });
  f.Step(m, 0.5);
  done.get_future().wait();
  for (int i = 0; i < 10; ++i) f.Step(m, 0.5);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(m.subscriber_count(), 0u);
}

TEST(MonitorTest, SubscriptionMayOutliveTheMonitor) {
  Fixture f;
  Subscription sub;
  {
    Monitor m(Opts(4, 0.9, milliseconds(1000)), f.Sources());
    sub = m.Subscribe([](const MonitorUpdate&) {});
    f.Step(m, 0.5);
  }
  EXPECT_TRUE(sub);
  EXPECT_EQ(sub.dropped(), 0u);
  sub.Reset();
  EXPECT_FALSE(sub);
}

TEST(MonitorTest, ThrowingSubscriberDoesNotStopOthers) {
  Fixture f;
  Monitor m(Opts(4, 0.9, milliseconds(1000)), f.Sources());
  Subscription bad =
      m.Subscribe([](const MonitorUpdate&) { throw std::runtime_error("x"); });
  Collector good;
  Subscription s = m.Subscribe(std::ref(good));
  for (int i = 0; i < 5; ++i) f.Step(m, 0.5);
  EXPECT_TRUE(good.WaitFor(5));
}

TEST(MonitorTest, StartSamplesOnItsOwnThreadFromRealProc) {
  Monitor::Options o;
  o.interval = milliseconds(10);
  Monitor m(o);
  Collector got;
  Subscription sub = m.Subscribe(std::ref(got));
  m.Start();
  m.Start();  // idempotent
  EXPECT_TRUE(m.running());
  ASSERT_TRUE(got.WaitFor(5));
  m.Stop();
  EXPECT_FALSE(m.running());
  const auto updates = got.updates();
  for (std::size_t i = 1; i < updates.size(); ++i) {
    EXPECT_EQ(updates[i].seq, updates[i - 1].seq + 1);
    EXPECT_GE(updates[i].sample.total_load, 0.0);
    EXPECT_LE(updates[i].sample.total_load, 1.0);
  }
  const std::uint64_t last = m.Latest()->seq;
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(m.Latest()->seq, last);  // stopped means stopped
  m.Start();
  ASSERT_TRUE(got.WaitFor(updates.size() + 2));
}

}  // namespace
}  // namespace impulse::metrics
