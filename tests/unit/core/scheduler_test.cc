#include "server/core/scheduler.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <latch>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "compute/common/parallel.h"

namespace impulse::core {
namespace {

std::shared_ptr<JobRecord> MakeJob(std::uint64_t ordinal, int priority,
                                   const std::string& tenant = "") {
  v1::JobSpec spec;
  spec.set_priority(priority);
  spec.mutable_pi()->set_samples(1);
  return std::make_shared<JobRecord>(
      (tenant.empty() ? "j" : tenant) + std::to_string(ordinal), ordinal, spec,
      EventLog::Options{}, 1, tenant);
}

TEST(SchedulerTest, RunsByPriorityThenAge) {
  std::mutex mu;
  std::vector<std::string> order;
  std::latch gate(1);
  std::latch all_done(5);
  Scheduler scheduler(Scheduler::Options{.cpu_threads = 1, .max_running = 1},
                      [&](const std::shared_ptr<JobRecord>& job) {
                        if (job->id() == "j0") gate.wait();
                        {
                          std::lock_guard lock(mu);
                          order.push_back(job->id());
                        }
                        all_done.count_down();
                      });
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(0, 0)).ok());  // occupies the worker
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(1, 0)).ok());
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(2, 5)).ok());
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(3, 0)).ok());
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(4, 5)).ok());
  gate.count_down();
  all_done.wait();
  EXPECT_EQ(order, (std::vector<std::string>{"j0", "j2", "j4", "j1", "j3"}));
}

TEST(SchedulerTest, AFullQueueRefusesAndRemoveTakesAJobOut) {
  std::latch gate(1);
  Scheduler scheduler(
      Scheduler::Options{.cpu_threads = 1, .max_running = 1, .max_queued = 2},
      [&](const std::shared_ptr<JobRecord>& job) {
        if (job->id() == "j0") gate.wait();
      });
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(0, 0)).ok());
  while (scheduler.running() == 0) std::this_thread::yield();
  auto queued = MakeJob(1, 0);
  ASSERT_TRUE(scheduler.Enqueue(queued).ok());
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(2, 0)).ok());
  Status full = scheduler.Enqueue(MakeJob(3, 0));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);
  EXPECT_TRUE(scheduler.Remove(*queued));
  EXPECT_FALSE(scheduler.Remove(*queued));
  EXPECT_TRUE(scheduler.Enqueue(MakeJob(4, 0)).ok());
  gate.count_down();
  EXPECT_TRUE(scheduler.WaitIdle(std::chrono::steady_clock::now() +
                                 std::chrono::seconds(30)));
}

TEST(SchedulerTest, JobsRunOnThreadsNamedCpuJob) {
  std::mutex mu;
  std::string name;
  Scheduler scheduler(Scheduler::Options{.cpu_threads = 1, .max_running = 1},
                      [&](const std::shared_ptr<JobRecord>&) {
                        char buffer[16] = {};
                        pthread_getname_np(pthread_self(), buffer,
                                           sizeof(buffer));
                        std::lock_guard lock(mu);
                        name = buffer;
                      });
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(0, 0)).ok());
  ASSERT_TRUE(scheduler.WaitIdle(std::chrono::steady_clock::now() +
                                 std::chrono::seconds(30)));
  std::lock_guard lock(mu);
  EXPECT_EQ(name, "cpu-job");
}

TEST(SchedulerTest, EverySlotIsUsed) {
  // Two CPU threads and two slots: two jobs run at once.
  Scheduler scheduler(Scheduler::Options{.cpu_threads = 2, .max_running = 2},
                      [](const std::shared_ptr<JobRecord>& job) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(
                            job->id() == "j9" ? 0 : 300));
                      });
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(0, 0)).ok());
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(1, 0)).ok());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::size_t peak = 0;
  while (std::chrono::steady_clock::now() < deadline && peak < 2) {
    peak = std::max(peak, scheduler.running());
  }
  EXPECT_EQ(peak, 2u);
  ASSERT_TRUE(scheduler.WaitIdle(std::chrono::steady_clock::now() +
                                 std::chrono::seconds(10)));
}

TEST(SchedulerTest, OneJobAloneGetsEveryThreadForItsLoops) {
  // Two CPU threads, one slot: the job gets both threads for its parallel
  // loops, its runner and a TBB worker (each named, for top -H and perf).
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::set<std::string> names;
  std::latch done(1);
  Scheduler wide(Scheduler::Options{.cpu_threads = 2, .max_running = 1},
                 [&](const std::shared_ptr<JobRecord>&) {
                   parallel::ForEach(0, 64, [&](int) {
                     {
                       char name[16] = {};
                       pthread_getname_np(pthread_self(), name, sizeof(name));
                       std::lock_guard lock(mu);
                       threads.insert(std::this_thread::get_id());
                       names.insert(name);
                     }
                     std::this_thread::sleep_for(std::chrono::milliseconds(5));
                   });
                   done.count_down();
                 });
  ASSERT_TRUE(wide.Enqueue(MakeJob(2, 0)).ok());
  done.wait();
  EXPECT_EQ(threads.size(), 2u);
  EXPECT_EQ(names, (std::set<std::string>{"cpu-job", "cpu-pool"}));
}

TEST(SchedulerTest, TenantsShareFairlyAtEqualPriority) {
  // One slot. Tenant a queues five jobs first, then b two and c one: after
  // a's first job the tenants take turns instead of b and c waiting behind
  // all of a's.
  std::mutex mu;
  std::vector<std::string> order;
  std::latch gate(1);
  std::latch all_done(8);
  Scheduler scheduler(Scheduler::Options{.cpu_threads = 1, .max_running = 1},
                      [&](const std::shared_ptr<JobRecord>& job) {
                        if (job->id() == "a0") gate.wait();
                        {
                          std::lock_guard lock(mu);
                          order.push_back(job->id());
                        }
                        all_done.count_down();
                      });
  std::uint64_t ordinal = 0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(scheduler.Enqueue(MakeJob(ordinal++, 0, "a")).ok());
  }
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(scheduler.Enqueue(MakeJob(ordinal++, 0, "b")).ok());
  }
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(ordinal++, 0, "c")).ok());
  gate.count_down();
  all_done.wait();
  // Nothing runs when each choice is made, so the tenant served least
  // since it was last idle goes first (ties: the older job).
  EXPECT_EQ(order, (std::vector<std::string>{"a0", "b5", "c7", "a1", "b6", "a2",
                                             "a3", "a4"}));
}

TEST(SchedulerTest, TheTenantRunningFewerJobsStartsNext) {
  // Two slots: a holds both with long jobs; when a0 ends, the free slot goes
  // to b's job although a's queued job is older. Only one slot is free at a
  // time (a1 holds the other until the end), so the order is deterministic.
  std::latch release_a0(1);
  std::latch release_a1(1);
  std::latch started(2);
  std::mutex mu;
  std::vector<std::string> order;
  Scheduler scheduler(Scheduler::Options{.cpu_threads = 2, .max_running = 2},
                      [&](const std::shared_ptr<JobRecord>& job) {
                        {
                          std::lock_guard lock(mu);
                          order.push_back(job->id());
                        }
                        if (job->id() == "a0" || job->id() == "a1") {
                          started.count_down();
                          (job->id() == "a0" ? release_a0 : release_a1).wait();
                        }
                      });
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(0, 0, "a")).ok());
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(1, 0, "a")).ok());
  started.wait();  // a runs two jobs
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(2, 0, "a")).ok());
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(3, 0, "b")).ok());
  release_a0.count_down();
  // b3 takes a0's slot (b runs 0 < a's 1), then a2 takes it after b3.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto started_count = [&] {
    std::lock_guard lock(mu);
    return order.size();
  };
  while (started_count() < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  release_a1.count_down();
  ASSERT_TRUE(scheduler.WaitIdle(std::chrono::steady_clock::now() +
                                 std::chrono::seconds(10)));
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[2], "b3");
  EXPECT_EQ(order[3], "a2");
}

TEST(SchedulerTest, PerTenantCapsOnRunningAndQueuedJobs) {
  std::latch release(1);
  Scheduler scheduler(
      Scheduler::Options{.cpu_threads = 4,
                         .max_running = 4,
                         .max_queued_per_tenant = 2,
                         .max_running_per_tenant = 1},
      [&](const std::shared_ptr<JobRecord>&) { release.wait(); });
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(0, 0, "a")).ok());
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(1, 0, "a")).ok());
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(2, 0, "a")).ok());
  // a runs one (its cap) and has two queued (its quota): a fourth is
  // refused, naming the tenant; b is not affected by a's quota.
  Status full = scheduler.Enqueue(MakeJob(3, 0, "a"));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(full.error().message.find("tenant 'a'"), std::string::npos);
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(4, 0, "b")).ok());
  ASSERT_TRUE(scheduler.Enqueue(MakeJob(5, 0, "b")).ok());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (scheduler.running() < 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(scheduler.running("a"), 1u);
  EXPECT_EQ(scheduler.running("b"), 1u);
  EXPECT_EQ(scheduler.running(), 2u);  // two slots stay free: both capped
  EXPECT_EQ(scheduler.queued("a"), 2u);
  EXPECT_EQ(scheduler.queued("b"), 1u);
  release.count_down();
  ASSERT_TRUE(scheduler.WaitIdle(std::chrono::steady_clock::now() +
                                 std::chrono::seconds(10)));
  EXPECT_EQ(scheduler.queued(), 0u);
}

}  // namespace
}  // namespace impulse::core
