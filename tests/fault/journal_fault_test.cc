// Journal failures with the real impulsed binary: a journal that is not a
// database or has damaged pages stops the start with an error naming the
// file; one that cannot even be created (a 1-byte file size limit) too; and
// one that fills up mid-run (RLIMIT_FSIZE, the way a full disk fails a write)
// makes the server refuse new work over gRPC and HTTP, say so in its log and
// in its health, while every job it did accept survives a restart.
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "compute/cpu/pi_cpu.h"
#include "impulse/v1/jobs.grpc.pb.h"
#include "tests/fault/grpc_health.h"
#include "tests/fault/impulsed_process.h"

namespace impulse::testing {
namespace {

namespace fs = std::filesystem;

// The file-size-limit cases run in every build but TSan's: its runtime dies
// of SIGBUS in a process started under any RLIMIT_FSIZE, before our code
// runs (even `impulsed --help` under `ulimit -f 256`).
constexpr char kNoFileLimitUnderTsan[] =
    "the ThreadSanitizer runtime cannot start under a file size limit";

std::unique_ptr<v1::JobService::Stub> Stub(const ImpulsedProcess& server) {
  return v1::JobService::NewStub(grpc::CreateChannel(
      server.grpc_target(), grpc::InsecureChannelCredentials()));
}

grpc::Status Submit(v1::JobService::Stub& stub, const v1::JobSpec& spec,
                    v1::Job* job) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::SubmitRequest request;
  *request.mutable_spec() = spec;
  return stub.Submit(&context, request, job);
}

// Run: the job's id from its first event, and the call's status. (Run's
// submits are journaled by the journal's thread, Submit's on the caller's.)
grpc::Status RunJob(v1::JobService::Stub& stub, const v1::JobSpec& spec,
                    std::string* id) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::RunRequest request;
  *request.mutable_spec() = spec;
  auto reader = stub.Run(&context, request);
  v1::JobEvent event;
  while (reader->Read(&event)) {
    if (id->empty()) *id = event.job_id();
  }
  return reader->Finish();
}

v1::JobSpec Pi(std::uint64_t seed) {
  v1::JobSpec spec;
  spec.mutable_pi()->set_samples(200'000);
  spec.mutable_pi()->set_seed(seed);
  spec.set_device(v1::CPU);
  return spec;
}

// Starts a server on `dir`, has it run a few jobs, and stops it gracefully,
// which leaves the whole journal in journal.sqlite (the WAL checkpointed).
void MakeJournal(const std::string& dir) {
  ImpulsedProcess server({.data_dir = dir});
  ASSERT_TRUE(server.Start()) << server.Log();
  auto stub = Stub(server);
  for (int i = 0; i < 20; ++i) {
    v1::Job job;
    ASSERT_TRUE(Submit(*stub, Pi(i), &job).ok());
  }
  ASSERT_EQ(server.Terminate(), 0) << server.Log();
}

TEST(JournalFaultTest, AFileThatIsNotADatabaseStopsTheStartNamingIt) {
  const std::string dir = FaultTempDir("not-a-database");
  {
    std::ofstream garbage(dir + "/journal.sqlite", std::ios::binary);
    for (int i = 0; i < 5000; ++i) garbage << "garbage " << i * 7919 << '\n';
  }
  ImpulsedProcess server({.data_dir = dir});
  EXPECT_FALSE(server.Start());
  EXPECT_EQ(server.WaitExit(), 2);
  const std::string log = server.Log();
  EXPECT_NE(log.find("cannot open the journal " + dir + "/journal.sqlite"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("not a database"), std::string::npos) << log;
  EXPECT_EQ(log.find("impulsed serving"), std::string::npos) << log;
}

TEST(JournalFaultTest, DamagedPagesStopTheStartNamingTheFile) {
  const std::string dir = FaultTempDir("damaged-pages");
  MakeJournal(dir);
  const std::string path = dir + "/journal.sqlite";
  const auto size = fs::file_size(path);
  ASSERT_GT(size, 8192u);
  {
    // Keep the header page; overwrite every page after it.
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4096);
    const std::string junk(size - 4096, '\xab');
    file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  ImpulsedProcess server({.data_dir = dir});
  EXPECT_FALSE(server.Start());
  EXPECT_EQ(server.WaitExit(), 2);
  const std::string log = server.Log();
  EXPECT_NE(log.find("cannot open the journal " + path), std::string::npos)
      << log;
  EXPECT_NE(log.find("damaged"), std::string::npos) << log;
}

TEST(JournalFaultTest, AJournalThatCannotBeWrittenAtAllStopsTheStart) {
#if defined(IMPULSE_TSAN)
  GTEST_SKIP() << kNoFileLimitUnderTsan;
#endif
  const std::string dir = FaultTempDir("no-space-at-start");
  ImpulsedProcess server({.data_dir = dir, .file_size_limit = 1});
  EXPECT_FALSE(server.Start());
  EXPECT_EQ(server.WaitExit(), 2);
  const std::string log = server.Log();
  EXPECT_NE(log.find("cannot open the journal " + dir + "/journal.sqlite"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("file size limit 1 B (ulimit -f)"), std::string::npos)
      << log;
}

TEST(JournalFaultTest, AJournalThatFillsUpRefusesNewWorkAndKeepsWhatItTook) {
#if defined(IMPULSE_TSAN)
  GTEST_SKIP() << kNoFileLimitUnderTsan;
#endif
  const std::string dir = FaultTempDir("fills-up");
  // Room for the new journal and a few dozen commits, then every write of
  // the journal fails with EFBIG, as on a full disk.
  ImpulsedProcess server({.data_dir = dir,
                          .args = {"--max_running=1"},
                          .file_size_limit = 256 << 10});
  ASSERT_TRUE(server.Start()) << server.Log();
  EXPECT_EQ(HealthStatus(server.grpc_target()), 1);
  auto stub = Stub(server);

  std::map<std::string, std::uint64_t> accepted;  // id -> seed
  grpc::Status refused;
  // Submit and Run in turn: both ways of taking a job must refuse it.
  for (std::uint64_t seed = 1; seed <= 5000; ++seed) {
    std::string id;
    grpc::Status status;
    if (seed % 2 == 0) {
      v1::Job job;
      status = Submit(*stub, Pi(seed), &job);
      id = job.id();
    } else {
      status = RunJob(*stub, Pi(seed), &id);
    }
    if (!status.ok()) {
      refused = status;
      EXPECT_TRUE(id.empty()) << "job " << id << " was refused after it began";
      break;
    }
    accepted.emplace(id, seed);
  }
  ASSERT_FALSE(refused.ok()) << "the journal never filled up";
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("journal"), std::string::npos)
      << refused.error_message();
  ASSERT_GT(accepted.size(), 0u);

  // From now on nothing new is taken: Submit, Run and POST /v1/jobs.
  v1::Job job;
  EXPECT_EQ(Submit(*stub, Pi(99'999), &job).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::RunRequest request;
    *request.mutable_spec() = Pi(99'998);
    auto reader = stub->Run(&context, request);
    v1::JobEvent event;
    EXPECT_FALSE(reader->Read(&event));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  HttpAnswer post = HttpRequest(server.http_port(), "POST", "/v1/jobs",
                                R"({"pi": {"samples": "1000"}})");
  EXPECT_EQ(post.status, 503) << post.head << post.body;
  EXPECT_NE(post.head.find("Retry-After"), std::string::npos) << post.head;
  EXPECT_NE(post.body.find("UNAVAILABLE"), std::string::npos) << post.body;
  HttpAnswer ready = HttpRequest(server.http_port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  // gRPC health follows within its 250 ms poll.
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (HealthStatus(server.grpc_target()) != 2 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(HealthStatus(server.grpc_target()), 2);

  // The log says what failed, where and what it means, once.
  const std::string log = server.Log();
  const std::string failed = "journal=" + dir + "/journal.sqlite failed:";
  EXPECT_NE(log.find(failed), std::string::npos) << log;
  EXPECT_EQ(log.find(failed), log.rfind(failed)) << log;
  EXPECT_NE(log.find("file size limit 256.0 KiB (ulimit -f)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("refusing new work"), std::string::npos) << log;

  // Reads go on: the jobs it took are still there.
  for (const auto& [id, seed] : accepted) {
    grpc::ClientContext context;
    v1::GetJobRequest get;
    get.set_id(id);
    v1::Job found;
    EXPECT_TRUE(stub->Get(&context, get, &found).ok()) << id;
  }
  EXPECT_EQ(server.Terminate(), 0) << server.Log();

  // With room again, every accepted job is there and ends with the right
  // result; nothing that was refused turns up.
  ImpulsedProcess again({.data_dir = dir});
  ASSERT_TRUE(again.Start()) << again.Log();
  stub = Stub(again);
  for (const auto& [id, seed] : accepted) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 60s);
    v1::WatchRequest watch;
    watch.set_id(id);
    auto reader = stub->Watch(&context, watch);
    v1::JobEvent event;
    while (reader->Read(&event)) {
    }
    ASSERT_TRUE(reader->Finish().ok()) << id << " was lost";
    grpc::ClientContext get_context;
    v1::GetJobRequest get;
    get.set_id(id);
    v1::Job done;
    ASSERT_TRUE(stub->Get(&get_context, get, &done).ok()) << id;
    ASSERT_EQ(done.state(), v1::SUCCEEDED) << id;
    EXPECT_EQ(done.result().pi().hits(), cpu::CountPiHitsScalar(200'000, seed))
        << id;
  }
  grpc::ClientContext list_context;
  v1::ListJobsRequest list;
  list.set_page_size(1000);
  v1::ListJobsResponse page;
  ASSERT_TRUE(stub->List(&list_context, list, &page).ok());
  EXPECT_EQ(static_cast<std::size_t>(page.jobs_size()), accepted.size());
  EXPECT_EQ(again.Terminate(), 0);
}

}  // namespace
}  // namespace impulse::testing
