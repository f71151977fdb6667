// Job lifecycle over real gRPC against a real server with a journal and a
// data directory: Delete, retention by age and by count (also across a
// restart), result files and the result cache after deletes, per-job
// timeouts, idempotency keys across a restart, and call deadlines on Watch
// and Run that leave no server coroutine behind.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/server_fixture.h"

namespace impulse::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  static std::mt19937_64 rng{std::random_device{}()};
  fs::path dir = fs::path(base != nullptr ? base : "/tmp") /
                 ("impulse-lifecycle-" + std::to_string(rng()));
  fs::create_directories(dir);
  return dir.string();
}

std::set<std::string> FilesIn(const fs::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    names.insert(it->path().filename().string());
  }
  return names;
}

// Polls `done` every 10 ms for up to `limit`; true once it holds.
template <typename Fn>
bool Eventually(Fn done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class LifecycleTest : public ServerTest {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    StartServer(Options());
  }

  // Journal and data directory under dir_; a fast retention sweep.
  ServerOptions Options() const {
    ServerOptions options = DefaultOptions();
    options.use_gpu = false;
    options.data_dir = dir_;
    options.manager.storage_dir = dir_;
    options.manager.journal_path = dir_ + "/journal.sqlite";
    options.retention_sweep_interval = 20ms;
    return options;
  }

  // Stops the server (as SIGTERM would) and starts another on the same dir.
  void Restart(ServerOptions options) {
    stub_.reset();
    channel_.reset();
    server_->Shutdown(0ms);
    StartServer(std::move(options));
  }

  fs::path ResultDir() const { return fs::path(dir_) / "results"; }

  grpc::Status Delete(const std::string& id, v1::Job* job = nullptr) {
    grpc::ClientContext context;
    v1::DeleteJobRequest request;
    request.set_id(id);
    v1::Job answer;
    return stub_->Delete(&context, request, job != nullptr ? job : &answer);
  }

  grpc::StatusCode GetCode(const std::string& id) {
    v1::Job job;
    return Get(id, &job).error_code();
  }

  grpc::Status Upload(const std::string& name, const std::vector<double>& xy) {
    grpc::ClientContext context;
    v1::Dataset answer;
    auto writer = stub_->UploadDataset(&context, &answer);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_name(name);
    header.mutable_header()->set_format(v1::POINTS_F64);
    header.mutable_header()->set_dims(2);
    writer->Write(header);
    v1::UploadDatasetRequest chunk;
    chunk.set_chunk(std::string(reinterpret_cast<const char*>(xy.data()),
                                xy.size() * sizeof(double)));
    chunk.set_last(true);
    writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }

  // Rows read back through GetResult; -1 on an error.
  long ResultRows(const std::string& id, grpc::Status* status = nullptr) {
    grpc::ClientContext context;
    v1::GetResultRequest request;
    request.set_id(id);
    auto reader = stub_->GetResult(&context, request);
    long rows = 0;
    v1::ResultChunk chunk;
    while (reader->Read(&chunk))
      rows += chunk.result().distance_matrix().rows();
    grpc::Status finish = reader->Finish();
    if (status != nullptr) *status = finish;
    return finish.ok() ? rows : -1;
  }

  // A value from the server's Prometheus text: the sample line that starts
  // with `series` (name and labels), or -1 when absent.
  double Metric(const std::string& series) const {
    const std::string text = "\n" + server_->MetricsText();
    const std::size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }

  static v1::JobSpec WithTimeout(v1::JobSpec spec,
                                 std::chrono::milliseconds timeout) {
    spec.mutable_timeout()->set_seconds(timeout.count() / 1000);
    spec.mutable_timeout()->set_nanos((timeout.count() % 1000) * 1'000'000);
    return spec;
  }

  std::string dir_;
};

// ------------------------------------------------------------------ Delete

TEST_F(LifecycleTest, DeleteRemovesAFinishedJobFromEveryViewAndTheJournal) {
  v1::JobSpec spec = PiSpec(100'000, 3);
  spec.set_idempotency_key("nightly-1");
  v1::Job done = WaitDone(MustSubmit(spec).id());
  ASSERT_EQ(done.state(), v1::SUCCEEDED);

  v1::Job deleted;
  ASSERT_TRUE(Delete(done.id(), &deleted).ok());
  EXPECT_EQ(deleted.id(), done.id());
  EXPECT_EQ(deleted.state(), v1::SUCCEEDED);
  EXPECT_FALSE(deleted.has_result());

  EXPECT_EQ(GetCode(done.id()), grpc::StatusCode::NOT_FOUND);
  grpc::Status watch;
  WatchAll(done.id(), 0, &watch);
  EXPECT_EQ(watch.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ResultRows(done.id()), -1);
  {
    grpc::ClientContext context;
    v1::ListJobsResponse page;
    ASSERT_TRUE(stub_->List(&context, v1::ListJobsRequest(), &page).ok());
    EXPECT_EQ(page.jobs_size(), 0);
  }
  grpc::Status again = Delete(done.id());
  EXPECT_EQ(again.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(again.error_message().rfind("id:", 0), 0u) << again.error_message();

  // The key is free again: the same spec makes a new job.
  v1::Job fresh = MustSubmit(spec);
  EXPECT_NE(fresh.id(), done.id());
  WaitDone(fresh.id());

  // The journal forgot it too.
  Restart(Options());
  EXPECT_EQ(GetCode(done.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCode(fresh.id()), grpc::StatusCode::OK);
}

TEST_F(LifecycleTest, DeletingAQueuedOrRunningJobAsksToCancelItFirst) {
  ServerOptions options = Options();
  options.manager.scheduler.max_running = 1;
  StartServer(options);
  v1::Job running = MustSubmit(LongParticlesSpec());
  v1::Job queued = MustSubmit(LongParticlesSpec());
  ASSERT_TRUE(Eventually([&] {
    v1::Job job;
    return Get(running.id(), &job).ok() && job.state() == v1::RUNNING;
  }));
  for (const v1::Job& job : {running, queued}) {
    grpc::Status status = Delete(job.id());
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(status.error_message().find("cancel it first"), std::string::npos)
        << status.error_message();
    EXPECT_EQ(GetCode(job.id()), grpc::StatusCode::OK);
  }
  ASSERT_TRUE(Cancel(queued.id()).ok());
  ASSERT_TRUE(Cancel(running.id()).ok());
  EXPECT_EQ(WaitDone(running.id()).state(), v1::CANCELLED);
  EXPECT_TRUE(Delete(running.id()).ok());
  EXPECT_TRUE(Delete(queued.id()).ok());
}

TEST_F(LifecycleTest,
       DeleteRemovesResultFilesOnceNoJobUsesThemAndTheCacheForgets) {
  // 400 x 400 doubles (1.28 MB) is kept in a file under results/.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> xy(800);
  for (double& v : xy) v = u(rng);
  ASSERT_TRUE(Upload("pts", xy).ok());
  v1::JobSpec spec;
  spec.mutable_distance_matrix()->set_dataset("pts");

  v1::Job a = WaitDone(MustSubmit(spec).id());
  ASSERT_EQ(a.state(), v1::SUCCEEDED) << a.error().message();
  EXPECT_EQ(FilesIn(ResultDir()), std::set<std::string>{a.id() + ".f64"});
  v1::Job b = MustSubmit(spec);  // answered by the cache: shares a's file
  ASSERT_TRUE(b.cached());
  EXPECT_EQ(b.cached_from(), a.id());

  ASSERT_TRUE(Delete(a.id()).ok());
  // b still needs the file.
  EXPECT_EQ(FilesIn(ResultDir()), std::set<std::string>{a.id() + ".f64"});
  EXPECT_EQ(ResultRows(b.id()), 400);
  // The cache no longer answers with a's result: c runs and has its own file.
  v1::Job c = WaitDone(MustSubmit(spec).id());
  ASSERT_EQ(c.state(), v1::SUCCEEDED);
  EXPECT_FALSE(c.cached());
  EXPECT_EQ(FilesIn(ResultDir()),
            (std::set<std::string>{a.id() + ".f64", c.id() + ".f64"}));

  ASSERT_TRUE(Delete(b.id()).ok());
  EXPECT_EQ(FilesIn(ResultDir()), std::set<std::string>{c.id() + ".f64"});
  EXPECT_EQ(ResultRows(c.id()), 400);
  ASSERT_TRUE(Delete(c.id()).ok());
  EXPECT_TRUE(FilesIn(ResultDir()).empty());
}

TEST_F(LifecycleTest, ResultFilesNoJobRefersToAreRemovedAtStart) {
  fs::create_directories(ResultDir());
  std::ofstream(ResultDir() / "j-0000000000000000.f64") << "left by a crash";
  std::ofstream(ResultDir() / "j-0000000000000001.f64.part") << "half";
  Restart(Options());
  EXPECT_TRUE(FilesIn(ResultDir()).empty());
}

// --------------------------------------------------------------- retention

TEST_F(LifecycleTest, FinishedJobsExpireAfterTheRetentionTime) {
  ServerOptions options = Options();
  options.manager.retention = 300ms;
  StartServer(options);
  v1::Job done = WaitDone(MustSubmit(PiSpec(1000, 1)).id());
  const auto finished = Clock::now();
  ASSERT_EQ(done.state(), v1::SUCCEEDED);
  v1::Job running = MustSubmit(LongParticlesSpec());
  ASSERT_TRUE(Eventually(
      [&] { return GetCode(done.id()) == grpc::StatusCode::NOT_FOUND; }));
  EXPECT_GE(Clock::now() - finished, 250ms);
  // Queued and running jobs never expire.
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(GetCode(running.id()), grpc::StatusCode::OK);
  ASSERT_TRUE(Cancel(running.id()).ok());
  WaitDone(running.id());
  // Once finished it expires like any other, journal row included.
  ASSERT_TRUE(Eventually(
      [&] { return GetCode(running.id()) == grpc::StatusCode::NOT_FOUND; }));
  options.manager.retention = 0ms;
  Restart(options);
  EXPECT_EQ(GetCode(running.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCode(done.id()), grpc::StatusCode::NOT_FOUND);
}

TEST_F(LifecycleTest, RetentionByCountKeepsTheNewestFinishedJobs) {
  ServerOptions options = Options();
  options.manager.retention_max_jobs = 3;
  StartServer(options);
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(WaitDone(MustSubmit(PiSpec(1000, i)).id()).id());
  }
  auto kept = [&] {
    std::vector<std::string> found;
    for (const std::string& id : ids) {
      if (GetCode(id) == grpc::StatusCode::OK) found.push_back(id);
    }
    return found;
  };
  ASSERT_TRUE(Eventually([&] { return kept().size() == 3; })) << kept().size();
  EXPECT_EQ(kept(), (std::vector<std::string>{ids[4], ids[5], ids[6]}));
}

TEST_F(LifecycleTest, ARestartAppliesRetentionBeforeServing) {
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(WaitDone(MustSubmit(PiSpec(1000, i)).id()).id());
  }
  ServerOptions options = Options();
  options.manager.retention_max_jobs = 1;
  options.retention_sweep_interval = 1h;  // only the sweep at start counts
  Restart(options);
  EXPECT_EQ(GetCode(ids[0]), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCode(ids[2]), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCode(ids[3]), grpc::StatusCode::OK);

  // By age as well: everything finished more than 1 ms ago goes.
  options.manager.retention_max_jobs = 0;
  options.manager.retention = 1ms;
  Restart(options);
  EXPECT_EQ(GetCode(ids[3]), grpc::StatusCode::NOT_FOUND);
}

// ------------------------------------------------------------ job timeouts

TEST_F(LifecycleTest, AJobPastItsTimeoutFailsWithDeadlineExceeded) {
  const auto start = Clock::now();
  v1::Job job = MustSubmit(WithTimeout(LongParticlesSpec(), 300ms));
  std::vector<v1::JobEvent> events = WatchAll(job.id(), 0);
  const auto took = Clock::now() - start;
  ASSERT_FALSE(events.empty());
  const v1::JobEvent& last = events.back();
  EXPECT_EQ(last.state(), v1::FAILED);
  EXPECT_EQ(last.error().code(), "DEADLINE_EXCEEDED");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  v1::Job failed;
  ASSERT_TRUE(Get(job.id(), &failed).ok());
  EXPECT_EQ(failed.state(), v1::FAILED);
  EXPECT_EQ(failed.error().code(), "DEADLINE_EXCEEDED");
  EXPECT_NE(failed.error().message().find("timeout of 300ms"),
            std::string::npos)
      << failed.error().message();
  EXPECT_EQ(failed.spec().timeout().nanos(), 300'000'000);

  // The journal keeps the outcome.
  Restart(Options());
  ASSERT_TRUE(Get(job.id(), &failed).ok());
  EXPECT_EQ(failed.error().code(), "DEADLINE_EXCEEDED");
}

TEST_F(LifecycleTest, TimeSpentQueuedDoesNotCountTowardsTheTimeout) {
  ServerOptions options = Options();
  options.manager.scheduler.max_running = 1;
  StartServer(options);
  v1::Job blocker = MustSubmit(LongParticlesSpec());
  // Queued behind the blocker for longer than its own timeout.
  v1::Job quick = MustSubmit(WithTimeout(PiSpec(100'000, 1), 200ms));
  std::this_thread::sleep_for(600ms);
  v1::Job queued;
  ASSERT_TRUE(Get(quick.id(), &queued).ok());
  EXPECT_EQ(queued.state(), v1::QUEUED);
  ASSERT_TRUE(Cancel(blocker.id()).ok());
  v1::Job done = WaitDone(quick.id());
  EXPECT_EQ(done.state(), v1::SUCCEEDED) << done.error().message();
}

TEST_F(LifecycleTest, ATimeoutIsValidatedAndZeroMeansNoLimit) {
  v1::Job job;
  v1::JobSpec spec = PiSpec(1000, 1);
  spec.mutable_timeout()->set_seconds(-1);
  grpc::Status status = Submit(spec, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("spec.timeout:", 0), 0u)
      << status.error_message();
  spec.mutable_timeout()->set_seconds(0);
  spec.mutable_timeout()->set_nanos(0);
  EXPECT_EQ(WaitDone(MustSubmit(spec).id()).state(), v1::SUCCEEDED);
}

// -------------------------------------------------------- idempotency keys

TEST_F(LifecycleTest, AnIdempotencyKeySurvivesARestart) {
  v1::JobSpec spec = PiSpec(5000, 9);
  spec.set_idempotency_key("order-17");
  v1::Job first = WaitDone(MustSubmit(spec).id());

  Restart(Options());
  v1::Job again = MustSubmit(spec);
  EXPECT_EQ(again.id(), first.id());
  EXPECT_EQ(again.state(), v1::SUCCEEDED);

  v1::JobSpec other = PiSpec(6000, 9);
  other.set_idempotency_key("order-17");
  v1::Job conflict;
  grpc::Status status = Submit(other, &conflict);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(status.error_message().rfind("spec.idempotency_key:", 0), 0u)
      << status.error_message();
  EXPECT_NE(status.error_message().find(first.id()), std::string::npos);
}

TEST_F(LifecycleTest, AnIdempotencyKeyOfAQueuedJobSurvivesARestartToo) {
  ServerOptions options = Options();
  options.manager.scheduler.max_running = 1;
  StartServer(options);
  v1::Job blocker = MustSubmit(LongParticlesSpec());
  v1::JobSpec spec = PiSpec(5000, 2);
  spec.set_idempotency_key("retry-me");
  v1::Job queued = MustSubmit(spec);
  Restart(options);  // both are journaled and queued again
  EXPECT_EQ(MustSubmit(spec).id(), queued.id());
  ASSERT_TRUE(Cancel(blocker.id()).ok());
  EXPECT_EQ(WaitDone(queued.id()).state(), v1::SUCCEEDED);
}

// ---------------------------------------------------------- call deadlines

TEST_F(LifecycleTest, WatchAndRunWithADeadlineEndCleanlyAndLeaveNothingBehind) {
  v1::Job job = MustSubmit(LongParticlesSpec());
  constexpr int kCalls = 8;
  for (int i = 0; i < kCalls; ++i) {
    const auto start = Clock::now();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 200ms);
    v1::JobEvent event;
    grpc::Status status;
    if (i % 2 == 0) {
      v1::WatchRequest request;
      request.set_id(job.id());
      auto reader = stub_->Watch(&context, request);
      while (reader->Read(&event)) {
      }
      status = reader->Finish();
    } else {
      v1::RunRequest request;
      *request.mutable_spec() = LongParticlesSpec();
      auto reader = stub_->Run(&context, request);
      while (reader->Read(&event)) {
      }
      status = reader->Finish();
    }
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
        << status.error_message();
    EXPECT_LT(Clock::now() - start, 3s);
  }
  // Every call's coroutine on the server ran to its end: each was counted
  // (the last thing it does) and no watcher is left.
  EXPECT_TRUE(Eventually([&] {
    return Metric(
               "impulse_grpc_requests_total{method=\"Watch\",code="
               "\"CANCELLED\"}") == kCalls / 2 &&
           Metric(
               "impulse_grpc_requests_total{method=\"Run\",code="
               "\"CANCELLED\"}") == kCalls / 2 &&
           Metric("impulse_active_watchers") == 0;
  })) << server_->MetricsText();
  // The jobs went on: a deadline ends the stream, not the job.
  v1::Job still;
  ASSERT_TRUE(Get(job.id(), &still).ok());
  EXPECT_EQ(still.state(), v1::RUNNING);
  grpc::ClientContext context;
  v1::ListJobsRequest list;
  list.set_state(v1::RUNNING);
  v1::ListJobsResponse running;
  ASSERT_TRUE(stub_->List(&context, list, &running).ok());
  v1::ListJobsRequest queued_list;
  queued_list.set_state(v1::QUEUED);
  grpc::ClientContext context2;
  v1::ListJobsResponse queued;
  ASSERT_TRUE(stub_->List(&context2, queued_list, &queued).ok());
  EXPECT_EQ(running.jobs_size() + queued.jobs_size(), 1 + kCalls / 2);
  for (const auto* page : {&running, &queued}) {
    for (const v1::Job& j : page->jobs()) Cancel(j.id());
  }
  // And the server stops at once, with no coroutine keeping it busy.
  const auto stop = Clock::now();
  server_->Shutdown(0ms);
  EXPECT_LT(Clock::now() - stop, 3s);
}

}  // namespace
}  // namespace impulse::testing
