#include "server/core/job_record.h"

#include <gtest/gtest.h>

#include <thread>

namespace impulse::core {
namespace {

TEST(JobRecordTest, ExactlyOneTerminalStateWinsUnderRacingTransitions) {
  for (int round = 0; round < 200; ++round) {
    v1::JobSpec spec;
    spec.mutable_pi()->set_samples(1);
    JobRecord job("j", 1, spec, EventLog::Options{});
    ASSERT_TRUE(job.MarkQueued());
    ASSERT_TRUE(job.MarkRunning(v1::CPU));
    std::atomic<int> winners{0};
    std::thread a([&] { winners += job.MarkSucceeded(v1::JobResult()); });
    std::thread b([&] { winners += job.MarkCancelled("test"); });
    std::thread c([&] { winners += job.MarkFailed("INTERNAL", "test"); });
    a.join();
    b.join();
    c.join();
    ASSERT_EQ(winners.load(), 1);
    std::vector<v1::JobEvent> events = job.events().ReadAfter(0, 100);
    int terminal_events = 0;
    for (const auto& e : events) terminal_events += IsTerminal(e.state());
    ASSERT_EQ(terminal_events, 1);
    ASSERT_EQ(events.back().state(), job.state());
  }
}

TEST(JobRecordTest, OnlyAQueuedJobStartsRunning) {
  v1::JobSpec spec;
  JobRecord job("j", 1, spec, EventLog::Options{});
  EXPECT_FALSE(job.MarkRunning(v1::CPU));
  ASSERT_TRUE(job.MarkQueued());
  ASSERT_TRUE(job.MarkCancelled("before start"));
  EXPECT_FALSE(job.MarkRunning(v1::CPU));
  EXPECT_EQ(job.state(), v1::CANCELLED);
  EXPECT_EQ(job.ToProto(false).error().code(), "CANCELLED");
}

}  // namespace
}  // namespace impulse::core
