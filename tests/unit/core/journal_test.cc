#include "server/core/journal.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace impulse::core {
namespace {

std::string FreshPath(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(tmp != nullptr ? tmp : "/tmp") + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir + "/journal.sqlite";
}

v1::Job MakeJob(const std::string& id, v1::JobState state) {
  v1::Job job;
  job.set_id(id);
  job.set_state(state);
  job.mutable_spec()->mutable_pi()->set_samples(1000);
  return job;
}

TEST(JournalTest, EveryUpdateFromManyThreadsIsThereAfterReopening) {
  const std::string path = FreshPath("many_threads");
  constexpr int kThreads = 4;
  constexpr int kJobsPerThread = 200;
  {
    auto opened = Journal::Open(path);
    ASSERT_TRUE(opened.ok());
    Journal& journal = *opened.value();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&journal, t] {
        for (int i = 0; i < kJobsPerThread; ++i) {
          const std::string id =
              "j-" + std::to_string(t) + "-" + std::to_string(i);
          ASSERT_TRUE(
              journal
                  .Insert(MakeJob(id, v1::QUEUED), t * kJobsPerThread + i + 1)
                  .ok());
          ASSERT_TRUE(journal.Update(MakeJob(id, v1::RUNNING), nullptr).ok());
          v1::JobResult result;
          result.mutable_pi()->set_hits(i);
          ASSERT_TRUE(journal.Update(MakeJob(id, v1::SUCCEEDED), &result).ok());
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }  // closing commits anything still queued
  auto reopened = Journal::Open(path);
  ASSERT_TRUE(reopened.ok());
  auto jobs = reopened.value()->LoadAll();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs.value().size(), std::size_t{kThreads * kJobsPerThread});
  for (const Journal::StoredJob& stored : jobs.value()) {
    EXPECT_EQ(stored.job.state(), v1::SUCCEEDED) << stored.job.id();
    ASSERT_TRUE(stored.result.has_value()) << stored.job.id();
    const int i =
        std::stoi(stored.job.id().substr(stored.job.id().rfind('-') + 1));
    EXPECT_EQ(stored.result->pi().hits(), static_cast<std::uint64_t>(i));
    EXPECT_EQ(stored.job.spec().pi().samples(), 1000u);
  }
}

TEST(JournalTest, InsertAsyncAnswersOnceCommittedOnTheFlusherThread) {
  // Inserts queued from several threads are each answered once, on the
  // journal's own thread, after their commit: an update made from the
  // answer lands on the row, and closing the journal loses none of them.
  const std::string path = FreshPath("insert_async");
  constexpr int kThreads = 4;
  constexpr int kJobsPerThread = 100;
  constexpr int kJobs = kThreads * kJobsPerThread;
  {
    auto opened = Journal::Open(path);
    ASSERT_TRUE(opened.ok());
    Journal& journal = *opened.value();
    std::mutex mu;
    std::condition_variable all_answered;
    int answered = 0;
    int failed = 0;
    std::set<std::thread::id> answering_threads;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kJobsPerThread; ++i) {
          const std::string id =
              "j-" + std::to_string(t) + "-" + std::to_string(i);
          journal.InsertAsync(
              MakeJob(id, v1::QUEUED), t * kJobsPerThread + i + 1,
              [&, id](Status stored) {
                // The row exists now, so this update is not lost.
                (void)journal.Update(MakeJob(id, v1::RUNNING), nullptr);
                std::lock_guard lock(mu);
                if (!stored.ok()) ++failed;
                answering_threads.insert(std::this_thread::get_id());
                if (++answered == kJobs) all_answered.notify_all();
              });
        }
      });
    }
    std::set<std::thread::id> submitting;
    for (std::thread& thread : threads) {
      submitting.insert(thread.get_id());
      thread.join();
    }
    std::unique_lock lock(mu);
    ASSERT_TRUE(all_answered.wait_for(lock, std::chrono::seconds(30),
                                      [&] { return answered == kJobs; }));
    EXPECT_EQ(failed, 0);
    ASSERT_EQ(answering_threads.size(), 1u);
    EXPECT_FALSE(submitting.contains(*answering_threads.begin()));
  }
  auto reopened = Journal::Open(path);
  ASSERT_TRUE(reopened.ok());
  auto jobs = reopened.value()->LoadAll();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs.value().size(), static_cast<std::size_t>(kJobs));
  for (std::size_t i = 0; i < jobs.value().size(); ++i) {
    EXPECT_EQ(jobs.value()[i].ordinal, i + 1);
    EXPECT_EQ(jobs.value()[i].job.state(), v1::RUNNING)
        << jobs.value()[i].job.id();
  }
}

TEST(JournalTest, TheLastUpdateOfAJobWins) {
  const std::string path = FreshPath("last_wins");
  {
    auto opened = Journal::Open(path);
    ASSERT_TRUE(opened.ok());
    Journal& journal = *opened.value();
    ASSERT_TRUE(journal.Insert(MakeJob("j-1", v1::QUEUED), 1).ok());
    ASSERT_TRUE(journal.Update(MakeJob("j-1", v1::RUNNING), nullptr).ok());
    ASSERT_TRUE(journal.Update(MakeJob("j-1", v1::CANCELLED), nullptr).ok());
    // Read back through the same connection: queued updates come first.
    auto jobs = journal.LoadAll();
    ASSERT_TRUE(jobs.ok());
    ASSERT_EQ(jobs.value().size(), 1u);
    EXPECT_EQ(jobs.value()[0].job.state(), v1::CANCELLED);
  }
}

TEST(JournalTest, ASecondProcessCannotOpenAJournalInUse) {
  const std::string path = FreshPath("exclusive");
  auto first = Journal::Open(path);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first.value()->Insert(MakeJob("j-1", v1::QUEUED), 1).ok());
  // A second connection stands in for a second impulsed on the same
  // --data_dir: the first holds the file's lock for as long as it is open.
  auto second = Journal::Open(path);
  EXPECT_FALSE(second.ok());
}

}  // namespace
}  // namespace impulse::core
