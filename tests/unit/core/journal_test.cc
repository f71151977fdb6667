#include "server/core/journal.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
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
