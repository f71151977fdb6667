// JobManager under concurrent use, without a transport: clients submitting
// (some retrying with the same idempotency key, some with SubmitAsync, whose
// answer comes from the journal's thread), cancelling, listing and watching
// event logs from several threads while the scheduler runs jobs.
// Written to be run under ThreadSanitizer as well (tools/test_all.sh): one
// job at a time runs on the CPU pool, so kernels' own TBB parallelism (which
// TSan cannot see through) stays on one thread, while every JobManager,
// JobRecord, EventLog and WaiterList path is shared between threads.
#include "server/core/job_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "server/core/event_log.h"

namespace impulse::core {
namespace {

v1::JobSpec PiSpec(std::uint64_t samples, const std::string& key = "") {
  v1::JobSpec spec;
  spec.mutable_pi()->set_samples(samples);
  spec.mutable_pi()->set_seed(samples);
  spec.set_no_cache(true);
  if (!key.empty()) spec.set_idempotency_key(key);
  return spec;
}

// Follows one job's event log on an io_context, like a Watch call: reads
// what is there, parks until the next event, ends after the terminal event.
class Watcher : public std::enable_shared_from_this<Watcher> {
 public:
  Watcher(std::shared_ptr<JobRecord> job, boost::asio::io_context& io)
      : job_(std::move(job)), io_(io) {}

  void Start() { Step(); }
  bool done() const { return done_.load(); }
  // Checked after done(): strictly increasing seqs, one terminal event, last.
  std::string Problem() const {
    std::lock_guard lock(mu_);
    return problem_;
  }

 private:
  void Step() {
    for (const v1::JobEvent& event : job_->events().ReadAfter(after_, 64)) {
      std::lock_guard lock(mu_);
      if (event.seq() <= after_) problem_ = "sequence went backwards";
      if (terminal_seen_) problem_ = "event after the terminal event";
      after_ = event.seq();
      if (event.type() == v1::STATE_CHANGED && IsTerminal(event.state())) {
        terminal_seen_ = true;
      }
    }
    if (terminal_seen_ || job_->events().closed()) {
      if (!terminal_seen_) {
        // Closed: the terminal event is in the log; read the rest.
        io_.post([self = shared_from_this()] { self->Step(); });
        return;
      }
      done_ = true;
      return;
    }
    job_->events().AsyncWaitAfter(
        after_, nullptr,
        boost::asio::bind_executor(
            io_, [self = shared_from_this()] { self->Step(); }));
  }

  const std::shared_ptr<JobRecord> job_;
  boost::asio::io_context& io_;
  std::uint64_t after_ = 0;
  bool terminal_seen_ = false;
  std::atomic<bool> done_{false};
  mutable std::mutex mu_;
  std::string problem_;
};

TEST(JobManagerTest, ClientsSubmitCancelListAndWatchAtOnce) {
  JobManagerOptions options;
  options.scheduler.cpu_threads = 1;
  options.result_cache_bytes = 0;
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(tmp != nullptr ? tmp : "/tmp") + "/clients_at_once";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  options.journal_path = dir + "/journal.sqlite";
  JobManager manager(options);
  ASSERT_TRUE(manager.Recover().ok());

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::vector<std::thread> io_threads;
  for (int i = 0; i < 2; ++i) io_threads.emplace_back([&] { io.run(); });

  constexpr int kSubmitters = 4;
  constexpr int kJobsEach = 15;
  std::mutex mu;
  std::vector<std::shared_ptr<JobRecord>> jobs;
  std::map<std::string, std::set<std::string>> ids_by_key;
  std::vector<std::shared_ptr<Watcher>> watchers;
  std::atomic<bool> stop{false};

  std::vector<std::thread> clients;
  for (int t = 0; t < kSubmitters; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kJobsEach; ++i) {
        // Every third job is a retry other threads make too.
        const std::string key = i % 3 == 0 ? "key-" + std::to_string(i) : "";
        const std::uint64_t samples =
            key.empty() ? 20'000 + 1'000 * (t * kJobsEach + i) : 50'000 + i;
        // Odd threads submit like the gRPC Run handler does.
        Result<std::shared_ptr<JobRecord>> job = Error{};
        if (t % 2 == 1) {
          std::promise<Result<std::shared_ptr<JobRecord>>> answer;
          manager.SubmitAsync(
              PiSpec(samples, key), "",
              [&answer](Result<std::shared_ptr<JobRecord>> result) {
                answer.set_value(std::move(result));
              });
          job = answer.get_future().get();
        } else {
          job = manager.Submit(PiSpec(samples, key));
        }
        ASSERT_TRUE(job.ok()) << job.error().ToString();
        auto watcher = std::make_shared<Watcher>(job.value(), io);
        watcher->Start();
        std::lock_guard lock(mu);
        jobs.push_back(job.value());
        watchers.push_back(watcher);
        if (!key.empty()) ids_by_key[key].insert(job.value()->id());
      }
    });
  }
  clients.emplace_back([&] {  // cancels every fifth job it sees
    std::size_t seen = 0;
    while (!stop.load()) {
      std::shared_ptr<JobRecord> victim;
      {
        std::lock_guard lock(mu);
        if (seen < jobs.size()) victim = jobs[seen++];
      }
      if (victim == nullptr) {
        std::this_thread::yield();
        continue;
      }
      if (seen % 5 == 0) {
        ASSERT_TRUE(manager.Cancel(victim->id()).ok());
      }
    }
  });
  clients.emplace_back([&] {  // lists, pages and reads results meanwhile
    while (!stop.load()) {
      v1::ListJobsRequest request;
      request.set_page_size(7);
      auto page = manager.List(request);
      ASSERT_TRUE(page.ok());
      for (const v1::Job& job : page.value().jobs()) {
        auto chunks = manager.ResultChunks(job.id(), 1 << 10);
        if (job.state() == v1::SUCCEEDED) {
          ASSERT_TRUE(chunks.ok());
        }
      }
    }
  });

  for (int t = 0; t < kSubmitters; ++t) clients[t].join();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::minutes(2);
  for (;;) {
    bool all_done = true;
    {
      std::lock_guard lock(mu);
      for (const auto& watcher : watchers) all_done &= watcher->done();
    }
    if (all_done) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "jobs stuck";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  for (std::size_t t = kSubmitters; t < clients.size(); ++t) clients[t].join();
  work.reset();
  for (std::thread& thread : io_threads) thread.join();

  for (const auto& [key, ids] : ids_by_key) {
    EXPECT_EQ(ids.size(), 1u) << "retries with " << key << " made new jobs";
  }
  std::set<std::string> distinct;
  for (const auto& job : jobs) {
    distinct.insert(job->id());
    const v1::JobState state = job->state();
    EXPECT_TRUE(state == v1::SUCCEEDED || state == v1::CANCELLED)
        << job->id() << " ended " << v1::JobState_Name(state);
    if (state == v1::SUCCEEDED) {
      ASSERT_NE(job->result(), nullptr);
      EXPECT_EQ(job->result()->pi().samples(), job->spec().pi().samples());
    }
  }
  for (const auto& watcher : watchers) EXPECT_EQ(watcher->Problem(), "");
  auto all = manager.List(v1::ListJobsRequest());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(static_cast<std::size_t>(all.value().jobs_size()), distinct.size());
}

TEST(JobManagerTest, WakeAllReleasesWatchersOfAnAbandonedCall) {
  JobManagerOptions options;
  options.scheduler.cpu_threads = 1;
  JobManager manager(options);
  // A long job holds the only slot, so the second stays queued and its log
  // gets no event until the watchers are woken.
  auto running = manager.Submit(PiSpec(std::uint64_t{1} << 40));
  auto queued = manager.Submit(PiSpec(std::uint64_t{1} << 41));
  ASSERT_TRUE(running.ok() && queued.ok());
  EventLog& log = queued.value()->events();
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::atomic<bool> abandoned{false};
  std::atomic<int> woken{0};
  for (int i = 0; i < 8; ++i) {
    log.AsyncWaitAfter(
        log.last_seq(), &abandoned,
        boost::asio::bind_executor(io, [&] { woken.fetch_add(1); }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(woken.load(), 0);
  abandoned = true;
  std::thread waker([&] { manager.WakeAllWatchers(); });
  waker.join();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (woken.load() < 8 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(woken.load(), 8);
  work.reset();
  runner.join();
  ASSERT_TRUE(manager.Cancel(queued.value()->id()).ok());
  ASSERT_TRUE(manager.Cancel(running.value()->id()).ok());
}

}  // namespace
}  // namespace impulse::core
