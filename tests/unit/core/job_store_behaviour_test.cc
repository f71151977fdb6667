// The same JobManager behaviours against both job stores: the embedded
// SQLite journal (one process) and the Redis cluster store (a real
// redis-server; the Redis cases skip when it is not installed).
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/cluster/redis_connection.h"
#include "server/cluster/redis_store.h"
#include "server/core/job_manager.h"
#include "tests/cluster/redis_process.h"

namespace impulse::core {
namespace {

using namespace std::chrono_literals;

enum class Backend { kJournal, kRedis };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kJournal ? "Journal" : "Redis";
}

v1::JobSpec PiSpec(std::uint64_t samples, std::uint64_t seed = 7) {
  v1::JobSpec spec;
  spec.mutable_pi()->set_samples(samples);
  spec.mutable_pi()->set_seed(seed);
  spec.set_device(v1::CPU);
  return spec;
}

class JobStoreBehaviourTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void SetUpTestSuite() {
    redis_ = testing::StartSuiteRedis("behaviour_redis");
  }
  static void TearDownTestSuite() { redis_.reset(); }

  void SetUp() override {
    if (GetParam() == Backend::kRedis) {
      if (testing::RedisProcess::Binary().empty()) {
        GTEST_SKIP() << "redis-server is not installed (tools/install_deps.sh "
                        "installs it); skipping the Redis store";
      }
      ASSERT_NE(redis_, nullptr) << "redis-server did not start";
      cluster::RedisHealth health("test");
      cluster::RedisConnection connection({"127.0.0.1", redis_->port()},
                                          &health, 2000ms);
      ASSERT_TRUE(connection.Command({"FLUSHALL"}).ok());
    } else {
      dir_ = testing::TestTempDir("behaviour_journal");
    }
    manager_ = MakeManager();
  }

  // A manager on the test's store; a second one sees the same jobs.
  std::unique_ptr<JobManager> MakeManager() {
    JobManagerOptions options;
    options.scheduler.cpu_threads = 1;
    options.scheduler.max_running = 1;
    options.scheduler.max_queued = max_queued_;
    options.scheduler.max_queued_per_tenant = tenant_max_queued_;
    options.result_cache_bytes = 0;
    if (GetParam() == Backend::kRedis) {
      auto store =
          cluster::RedisStore::Open({.url = redis_->url(), .lease = 1000ms});
      EXPECT_TRUE(store.ok()) << store.error().ToString();
      if (!store.ok()) return nullptr;
      options.cluster = std::move(store.value());
    } else {
      options.journal_path = dir_ + "/journal.sqlite";
    }
    auto manager = std::make_unique<JobManager>(options);
    const Status recovered = manager->Recover();
    EXPECT_TRUE(recovered.ok()) << recovered.error().ToString();
    return manager;
  }

  // Polls (the store may be another process) until the job is in `state`.
  bool WaitFor(JobManager& manager, const std::string& id, v1::JobState state,
               std::chrono::milliseconds timeout = 15s,
               const std::string& tenant = "") {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto job = manager.Find(id, tenant);
      if (job.ok() && job.value()->state() == state) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  // Waits until the job's event log (as Find gives it) holds its terminal
  // event.
  std::shared_ptr<JobRecord> WaitClosed(JobManager& manager,
                                        const std::string& id) {
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto job = manager.Find(id);
      if (job.ok() && job.value()->events().closed()) return job.value();
      std::this_thread::sleep_for(5ms);
    }
    return nullptr;
  }

  static std::unique_ptr<testing::RedisProcess> redis_;
  std::string dir_;
  std::size_t max_queued_ = 10'000;
  std::size_t tenant_max_queued_ = 0;
  std::unique_ptr<JobManager> manager_;
};

std::unique_ptr<testing::RedisProcess> JobStoreBehaviourTest::redis_;

TEST_P(JobStoreBehaviourTest, SubmittedJobRunsAndItsResultIsReadable) {
  auto job = manager_->Submit(PiSpec(1'000'000));
  ASSERT_TRUE(job.ok()) << job.error().ToString();
  const std::string id = job.value()->id();
  ASSERT_TRUE(WaitFor(*manager_, id, v1::SUCCEEDED));
  auto found = manager_->Find(id);
  ASSERT_TRUE(found.ok());
  const v1::Job view = found.value()->ToProto(/*with_result=*/true);
  EXPECT_EQ(view.result().pi().samples(), 1'000'000u);
  EXPECT_GT(view.result().pi().hits(), 700'000u);
  auto chunks = manager_->ResultChunks(id, 1 << 20);
  ASSERT_TRUE(chunks.ok()) << chunks.error().ToString();
  ASSERT_EQ(chunks.value().size(), 1u);
  EXPECT_EQ(chunks.value()[0].result().pi().hits(), view.result().pi().hits());
}

TEST_P(JobStoreBehaviourTest, SubmitAsyncAnswersEachSubmitOnceItIsStored) {
  // Four threads submit 50 jobs each without waiting (the journal commits
  // them in shared transactions); every one is answered once, runs, and is
  // there for the next manager. A bad spec is answered with its field.
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::mutex mu;
  std::condition_variable answered;
  std::vector<Result<std::shared_ptr<JobRecord>>> answers;
  auto record = [&](Result<std::shared_ptr<JobRecord>> answer) {
    std::lock_guard lock(mu);
    answers.push_back(std::move(answer));
    answered.notify_all();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        manager_->SubmitAsync(PiSpec(1000, t * kPerThread + i), "", record);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  v1::JobSpec bad = PiSpec(1000);
  bad.mutable_pi()->set_samples(0);
  manager_->SubmitAsync(bad, "", record);
  std::set<std::string> ids;
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(answered.wait_for(lock, 30s, [&] {
      return answers.size() == kThreads * kPerThread + 1;
    }));
    for (const auto& answer : answers) {
      if (answer.ok()) {
        ids.insert(answer.value()->id());
      } else {
        EXPECT_EQ(answer.error().code, ErrorCode::kInvalidArgument);
        EXPECT_EQ(answer.error().field, "spec.pi.samples");
      }
    }
  }
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitFor(*manager_, id, v1::SUCCEEDED)) << id;
  }
  manager_.reset();
  manager_ = MakeManager();
  ASSERT_NE(manager_, nullptr);
  for (const std::string& id : ids) {
    auto found = manager_->Find(id);
    ASSERT_TRUE(found.ok()) << id;
    EXPECT_EQ(found.value()->state(), v1::SUCCEEDED) << id;
  }
}

TEST_P(JobStoreBehaviourTest, EventsEndWithOneTerminalEventAndResumeAfterSeq) {
  auto job = manager_->Submit(PiSpec(20'000'000));
  ASSERT_TRUE(job.ok());
  std::shared_ptr<JobRecord> closed = WaitClosed(*manager_, job.value()->id());
  ASSERT_NE(closed, nullptr);
  const std::vector<v1::JobEvent> all = closed->events().ReadAfter(0, 100000);
  ASSERT_GE(all.size(), 3u);  // QUEUED, RUNNING, SUCCEEDED at least
  EXPECT_EQ(all.front().state(), v1::QUEUED);
  int terminal = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i > 0) {
      EXPECT_GT(all[i].seq(), all[i - 1].seq());
    }
    if (all[i].type() == v1::STATE_CHANGED && IsTerminal(all[i].state())) {
      ++terminal;
      EXPECT_EQ(all[i].state(), v1::SUCCEEDED);
      EXPECT_EQ(i, all.size() - 1);
    }
  }
  EXPECT_EQ(terminal, 1);
  const std::uint64_t middle = all[all.size() / 2].seq();
  const std::vector<v1::JobEvent> rest =
      closed->events().ReadAfter(middle, 100000);
  ASSERT_FALSE(rest.empty());
  EXPECT_GT(rest.front().seq(), middle);
  EXPECT_EQ(rest.back().seq(), all.back().seq());
}

TEST_P(JobStoreBehaviourTest, CancelStopsQueuedAndRunningJobs) {
  // One slot: the first job runs (long), the second waits.
  auto running = manager_->Submit(PiSpec(100'000'000'000));
  ASSERT_TRUE(running.ok());
  ASSERT_TRUE(WaitFor(*manager_, running.value()->id(), v1::RUNNING));
  auto queued = manager_->Submit(PiSpec(1000, 1));
  ASSERT_TRUE(queued.ok());
  ASSERT_TRUE(manager_->Cancel(queued.value()->id()).ok());
  EXPECT_TRUE(WaitFor(*manager_, queued.value()->id(), v1::CANCELLED));
  ASSERT_TRUE(manager_->Cancel(running.value()->id()).ok());
  EXPECT_TRUE(WaitFor(*manager_, running.value()->id(), v1::CANCELLED));
  auto view = manager_->Find(running.value()->id());
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view.value()->ToProto(false).error().code(), "CANCELLED");
}

TEST_P(JobStoreBehaviourTest, IdempotencyKeyAnswersTheOriginalJob) {
  v1::JobSpec spec = PiSpec(1000);
  spec.set_idempotency_key("k-1");
  auto first = manager_->Submit(spec);
  ASSERT_TRUE(first.ok());
  auto again = manager_->Submit(spec);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value()->id(), first.value()->id());
  spec.mutable_pi()->set_samples(2000);
  auto other = manager_->Submit(spec);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(other.error().field, "spec.idempotency_key");
}

TEST_P(JobStoreBehaviourTest, UnknownIdsAndOtherTenantsJobsAreNotFound) {
  auto missing = manager_->Find("j-0000000000000000");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto job = manager_->Submit(PiSpec(1000), "alice");
  ASSERT_TRUE(job.ok());
  auto seen_by_bob = manager_->Find(job.value()->id(), "bob");
  ASSERT_FALSE(seen_by_bob.ok());
  EXPECT_EQ(seen_by_bob.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(seen_by_bob.error().message,
            missing.error().message.substr(0, 16) + job.value()->id() + "'");
}

TEST_P(JobStoreBehaviourTest, DeleteRemovesOnlyFinishedJobs) {
  auto running = manager_->Submit(PiSpec(100'000'000'000));
  ASSERT_TRUE(running.ok());
  ASSERT_TRUE(WaitFor(*manager_, running.value()->id(), v1::RUNNING));
  auto refused = manager_->Delete(running.value()->id());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(manager_->Cancel(running.value()->id()).ok());
  ASSERT_TRUE(WaitFor(*manager_, running.value()->id(), v1::CANCELLED));
  auto deleted = manager_->Delete(running.value()->id());
  ASSERT_TRUE(deleted.ok()) << deleted.error().ToString();
  EXPECT_EQ(deleted.value().state(), v1::CANCELLED);
  auto gone = manager_->Find(running.value()->id());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

TEST_P(JobStoreBehaviourTest, ListIsNewestFirstAndFiltersByState) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto job = manager_->Submit(PiSpec(1000, i));
    ASSERT_TRUE(job.ok());
    ids.push_back(job.value()->id());
  }
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitFor(*manager_, id, v1::SUCCEEDED));
  }
  v1::ListJobsRequest request;
  request.set_page_size(2);
  auto page = manager_->List(request);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page.value().jobs_size(), 2);
  EXPECT_EQ(page.value().jobs(0).id(), ids[2]);
  EXPECT_EQ(page.value().jobs(1).id(), ids[1]);
  request.set_page_token(page.value().next_page_token());
  auto next = manager_->List(request);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next.value().jobs_size(), 1);
  EXPECT_EQ(next.value().jobs(0).id(), ids[0]);
  request.Clear();
  request.set_state(v1::RUNNING);
  auto running = manager_->List(request);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running.value().jobs_size(), 0);
}

TEST_P(JobStoreBehaviourTest, FinishedJobsOutliveTheManager) {
  auto done = manager_->Submit(PiSpec(1000));
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(WaitFor(*manager_, done.value()->id(), v1::SUCCEEDED));
  const std::string id = done.value()->id();
  const std::uint64_t hits =
      manager_->Find(id).value()->ToProto(true).result().pi().hits();
  manager_.reset();
  manager_ = MakeManager();
  ASSERT_NE(manager_, nullptr);
  auto found = manager_->Find(id);
  ASSERT_TRUE(found.ok()) << found.error().ToString();
  EXPECT_EQ(found.value()->state(), v1::SUCCEEDED);
  EXPECT_EQ(found.value()->ToProto(true).result().pi().hits(), hits);
  // Its events end with the terminal one, so a watcher that resumes ends.
  std::shared_ptr<JobRecord> closed = WaitClosed(*manager_, id);
  ASSERT_NE(closed, nullptr);
}

TEST_P(JobStoreBehaviourTest, SubmitsBeyondTheQueueLimitAreRefused) {
  // (The journal's limit counts queued jobs; the cluster's counts queued
  // and running ones: either way the third of these is refused.)
  max_queued_ = 1;
  manager_.reset();
  manager_ = MakeManager();
  ASSERT_NE(manager_, nullptr);
  std::vector<std::string> ids;
  Result<std::shared_ptr<JobRecord>> last = Error{};
  for (int i = 0; i < 3; ++i) {
    last = manager_->Submit(PiSpec(100'000'000'000, i));
    if (last.ok()) ids.push_back(last.value()->id());
  }
  ASSERT_FALSE(last.ok());
  EXPECT_EQ(last.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(last.error().message.find("full"), std::string::npos);
  for (const std::string& id : ids) ASSERT_TRUE(manager_->Cancel(id).ok());
}

TEST_P(JobStoreBehaviourTest, ATenantsQueuedJobsAreCapped) {
  tenant_max_queued_ = 1;
  manager_.reset();
  manager_ = MakeManager();
  ASSERT_NE(manager_, nullptr);
  // One slot: the first job runs (it left the queue), the second waits.
  auto running = manager_->Submit(PiSpec(100'000'000'000, 1), "team");
  ASSERT_TRUE(running.ok()) << running.error().ToString();
  ASSERT_TRUE(
      WaitFor(*manager_, running.value()->id(), v1::RUNNING, 15s, "team"));
  auto queued = manager_->Submit(PiSpec(1'000, 2), "team");
  ASSERT_TRUE(queued.ok()) << queued.error().ToString();
  auto refused = manager_->Submit(PiSpec(1'000, 3), "team");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(refused.error().message.find("--tenant_max_queued"),
            std::string::npos)
      << refused.error().message;
  auto other = manager_->Submit(PiSpec(1'000, 4), "other");
  EXPECT_TRUE(other.ok()) << "another tenant is not held back";
  ASSERT_TRUE(manager_->Cancel(running.value()->id(), "team").ok());
  ASSERT_TRUE(
      WaitFor(*manager_, queued.value()->id(), v1::SUCCEEDED, 15s, "team"));
}

TEST_P(JobStoreBehaviourTest, UnfinishedJobsRunAgainUnderANewManager) {
  // One slot: a long job runs and a short one waits when the manager goes.
  auto running = manager_->Submit(PiSpec(100'000'000'000));
  ASSERT_TRUE(running.ok());
  ASSERT_TRUE(WaitFor(*manager_, running.value()->id(), v1::RUNNING));
  auto queued = manager_->Submit(PiSpec(1000, 3));
  ASSERT_TRUE(queued.ok());
  const std::string long_id = running.value()->id();
  const std::string short_id = queued.value()->id();
  running = Error{};
  queued = Error{};
  manager_.reset();
  manager_ = MakeManager();
  ASSERT_NE(manager_, nullptr);
  ASSERT_TRUE(manager_->Cancel(long_id).ok());
  EXPECT_TRUE(WaitFor(*manager_, short_id, v1::SUCCEEDED));
  EXPECT_TRUE(WaitFor(*manager_, long_id, v1::CANCELLED));
}

INSTANTIATE_TEST_SUITE_P(BothStores, JobStoreBehaviourTest,
                         ::testing::Values(Backend::kJournal, Backend::kRedis),
                         BackendName);

}  // namespace
}  // namespace impulse::core
