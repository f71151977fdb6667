#include "server/core/scheduler.h"

#include <gtest/gtest.h>

#include <latch>
#include <mutex>
#include <vector>

namespace impulse::core {
namespace {

std::shared_ptr<JobRecord> MakeJob(std::uint64_t ordinal, int priority) {
  v1::JobSpec spec;
  spec.set_priority(priority);
  spec.mutable_pi()->set_samples(1);
  return std::make_shared<JobRecord>("j" + std::to_string(ordinal), ordinal,
                                     spec, EventLog::Options{});
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

}  // namespace
}  // namespace impulse::core
