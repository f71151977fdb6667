// The Redis job store's ownership rules against a real redis-server (skips
// when it is not installed): only the lease holder writes a job, a replica
// that stopped renewing loses its job to another one, and a job ends
// exactly once.
#include "server/cluster/redis_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "server/core/clock.h"
#include "tests/cluster/redis_process.h"

namespace impulse::cluster {
namespace {

using namespace std::chrono_literals;
using core::ClaimedJob;
using core::JobRecord;

constexpr auto kLease = 300ms;

class RedisStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    redis_ = testing::StartSuiteRedis("store_redis");
  }
  static void TearDownTestSuite() { redis_.reset(); }

  void SetUp() override {
    if (testing::RedisProcess::Binary().empty()) {
      GTEST_SKIP() << "redis-server is not installed (tools/install_deps.sh "
                      "installs it)";
    }
    ASSERT_NE(redis_, nullptr) << "redis-server did not start";
    RedisHealth health("test");
    RedisConnection connection({"127.0.0.1", redis_->port()}, &health, 2s);
    ASSERT_TRUE(connection.Command({"FLUSHALL"}).ok());
    a_ = Open("replica-a");
    b_ = Open("replica-b");
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }

  std::unique_ptr<RedisStore> Open(const std::string& replica) {
    auto store = RedisStore::Open(
        {.url = redis_->url(), .lease = kLease, .replica = replica});
    EXPECT_TRUE(store.ok()) << store.error().ToString();
    return store.ok() ? std::move(store.value()) : nullptr;
  }

  // Queues job `id` (pi) of `tenant` through `store`, within `limits`.
  static Result<std::string> TryQueue(RedisStore& store, const std::string& id,
                                      const std::string& tenant,
                                      const core::InsertLimits& limits) {
    JobRecord job(id, 1, Spec(), core::EventLog::Options{}, 1, tenant);
    job.MarkQueued();
    return store.InsertQueued(job.ToProto(false), 1,
                              job.events().ReadAfter(0, 1).front(), limits);
  }
  void Queue(RedisStore& store, const std::string& id) {
    Result<std::string> inserted = TryQueue(store, id, "", {});
    ASSERT_TRUE(inserted.ok()) << inserted.error().ToString();
  }

  static v1::JobSpec Spec() {
    v1::JobSpec spec;
    spec.mutable_pi()->set_samples(1000);
    return spec;
  }

  // Claims one job with `store` (waiting up to `timeout`) and makes the
  // record that runs it, as the JobManager does.
  std::shared_ptr<JobRecord> ClaimOne(RedisStore& store,
                                      std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      Result<std::vector<ClaimedJob>> claimed = store.Claim(1, 50ms);
      if (!claimed.ok() || claimed.value().empty()) continue;
      ClaimedJob& c = claimed.value().front();
      const std::uint64_t first_seq =
          c.claims <= 1 ? c.last_seq + 1 : (c.claims << 32) + 1;
      auto job =
          std::make_shared<JobRecord>(c.stored.job.id(), 1, c.stored.job.spec(),
                                      core::EventLog::Options{}, first_seq);
      job->Restore(c.stored.job, nullptr);
      store.Adopt(job, c.claims);
      if (c.claims > 1) job->MarkQueued("taken over");
      return job;
    }
    return nullptr;
  }

  v1::JobState StoredState(const std::string& id) {
    auto loaded = a_->Load(id);
    EXPECT_TRUE(loaded.ok() && loaded.value().has_value());
    return loaded.ok() && loaded.value().has_value()
               ? loaded.value()->job.state()
               : v1::JOB_STATE_UNSPECIFIED;
  }

  static std::unique_ptr<testing::RedisProcess> redis_;
  std::unique_ptr<RedisStore> a_;
  std::unique_ptr<RedisStore> b_;
};

std::unique_ptr<testing::RedisProcess> RedisStoreTest::redis_;

TEST_F(RedisStoreTest, AJobIsClaimedByOneReplicaOnly) {
  Queue(*a_, "j-1");
  std::shared_ptr<JobRecord> job = ClaimOne(*a_, 2s);
  ASSERT_NE(job, nullptr);
  // B sees nothing: the entry is A's, and A's lease holds.
  Result<std::vector<ClaimedJob>> other = b_->Claim(1, 50ms);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other.value().empty());
}

TEST_F(RedisStoreTest, AZombieOwnerCannotEndAJobAnotherReplicaTookOver) {
  Queue(*a_, "j-1");
  std::shared_ptr<JobRecord> on_a = ClaimOne(*a_, 2s);
  ASSERT_NE(on_a, nullptr);
  ASSERT_TRUE(on_a->MarkRunning(v1::CPU));
  ASSERT_TRUE(a_->Update(on_a->ToProto(false), nullptr).ok());
  // A stops renewing (it hangs); B takes the job over once the lease and
  // the queue entry's idle time pass.
  std::shared_ptr<JobRecord> on_b = ClaimOne(*b_, 5s);
  ASSERT_NE(on_b, nullptr);
  EXPECT_GT(on_b->events().last_seq(), std::uint64_t{2} << 32);
  // A wakes up and finishes: not stored.
  ASSERT_TRUE(on_a->MarkFailed("INTERNAL", "zombie"));
  ASSERT_TRUE(a_->Update(on_a->ToProto(false), nullptr).ok());
  EXPECT_EQ(StoredState("j-1"), v1::RUNNING);
  // B finishes: stored, with its result, and its events follow A's.
  ASSERT_TRUE(on_b->MarkRunning(v1::CPU));
  v1::JobResult result;
  result.mutable_pi()->set_hits(785);
  ASSERT_TRUE(on_b->MarkSucceeded(result));
  ASSERT_TRUE(b_->Update(on_b->ToProto(false), &result).ok());
  auto stored = a_->Load("j-1");
  ASSERT_TRUE(stored.ok() && stored.value().has_value());
  EXPECT_EQ(stored.value()->job.state(), v1::SUCCEEDED);
  EXPECT_EQ(stored.value()->result->pi().hits(), 785u);
  auto events = a_->ReadEvents("j-1", 0, 100);
  ASSERT_TRUE(events.ok());
  int terminal = 0;
  for (const v1::JobEvent& event : events.value()) {
    terminal +=
        event.type() == v1::STATE_CHANGED && core::IsTerminal(event.state());
  }
  EXPECT_EQ(terminal, 1);
  EXPECT_EQ(events.value().back().state(), v1::SUCCEEDED);
  // Finished: nobody claims it again.
  Result<std::vector<ClaimedJob>> again = a_->Claim(1, 50ms);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.value().empty());
}

TEST_F(RedisStoreTest, AHeartbeatStopsAJobWhoseLeaseWasTaken) {
  Queue(*a_, "j-1");
  std::shared_ptr<JobRecord> on_a = ClaimOne(*a_, 2s);
  ASSERT_NE(on_a, nullptr);
  ASSERT_NE(ClaimOne(*b_, 5s), nullptr);
  a_->Heartbeat();
  EXPECT_TRUE(on_a->cancel_flag().load());
  // Not a client's cancel: the job stops without a terminal state.
  EXPECT_FALSE(on_a->cancel_requested().load());
}

TEST_F(RedisStoreTest, CancelEndsAQueuedJobAtOnceAndReachesARunningOne) {
  Queue(*a_, "j-queued");
  ASSERT_TRUE(b_->RequestCancel("j-queued").ok());
  EXPECT_EQ(StoredState("j-queued"), v1::CANCELLED);
  auto events = a_->ReadEvents("j-queued", 1, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events.value().size(), 1u);
  EXPECT_EQ(events.value()[0].seq(), 2u);
  EXPECT_EQ(events.value()[0].state(), v1::CANCELLED);

  Queue(*a_, "j-running");
  std::shared_ptr<JobRecord> job = ClaimOne(*a_, 2s);
  ASSERT_NE(job, nullptr);
  ASSERT_TRUE(job->MarkRunning(v1::CPU));
  ASSERT_TRUE(b_->RequestCancel("j-running").ok());  // another replica
  EXPECT_FALSE(job->cancel_requested().load());
  a_->Heartbeat();  // the owner sees the flag
  EXPECT_TRUE(job->cancel_requested().load());
  EXPECT_TRUE(job->cancel_flag().load());
}

TEST_F(RedisStoreTest, ATenantsQueuedJobsAreCappedAcrossReplicas) {
  const core::InsertLimits two_each{.max_queued_per_tenant = 2};
  ASSERT_TRUE(TryQueue(*a_, "t-1", "team", two_each).ok());
  ASSERT_TRUE(TryQueue(*a_, "t-2", "team", two_each).ok());
  // The third, through the other replica: refused, naming the flag.
  Result<std::string> third = TryQueue(*b_, "t-3", "team", two_each);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(third.error().message.find("tenant 'team' already has 2 queued"),
            std::string::npos)
      << third.error().message;
  EXPECT_NE(third.error().message.find("--tenant_max_queued"),
            std::string::npos);
  EXPECT_FALSE(a_->Load("t-3").value().has_value()) << "nothing written";
  // Another tenant is not held back.
  ASSERT_TRUE(TryQueue(*b_, "o-1", "other", two_each).ok());

  // A job that starts running leaves the queue: room for one more.
  std::shared_ptr<JobRecord> running = ClaimOne(*a_, 2s);
  ASSERT_NE(running, nullptr);
  ASSERT_EQ(running->id(), "t-1");
  ASSERT_TRUE(running->MarkRunning(v1::CPU));
  ASSERT_TRUE(a_->Update(running->ToProto(false), nullptr).ok());
  ASSERT_TRUE(TryQueue(*b_, "t-3", "team", two_each).ok());
  EXPECT_FALSE(TryQueue(*b_, "t-4", "team", two_each).ok());

  // So does a queued job that is cancelled.
  ASSERT_TRUE(b_->RequestCancel("t-2").ok());
  ASSERT_EQ(StoredState("t-2"), v1::CANCELLED);
  EXPECT_TRUE(TryQueue(*b_, "t-4", "team", two_each).ok());
  EXPECT_FALSE(TryQueue(*a_, "t-5", "team", two_each).ok());
}

}  // namespace
}  // namespace impulse::cluster
