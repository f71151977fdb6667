// The Execute RPC over real gRPC on loopback: one answer with the finished
// job, errors that name the field, failed jobs answered with their error, and
// a call that ends first (deadline, shutdown) without taking the job along.

#include <chrono>
#include <cmath>
#include <thread>

#include "compute/cpu/pi_cpu.h"
#include "tests/integration/server_fixture.h"

namespace impulse::testing {
namespace {

class ExecuteTest : public ServerTest {
 protected:
  grpc::Status Execute(
      const v1::JobSpec& spec, v1::Job* job,
      std::chrono::milliseconds deadline = std::chrono::milliseconds(60'000)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::RunRequest request;
    *request.mutable_spec() = spec;
    return stub_->Execute(&context, request, job);
  }

  // The only job in the server (these tests start from an empty one).
  v1::Job OnlyJob() {
    grpc::ClientContext context;
    v1::ListJobsResponse list;
    EXPECT_TRUE(stub_->List(&context, {}, &list).ok());
    EXPECT_EQ(list.jobs_size(), 1);
    return list.jobs_size() > 0 ? list.jobs(0) : v1::Job();
  }
};

TEST_F(ExecuteTest, AnswersTheFinishedJobWithItsResult) {
  v1::Job job;
  grpc::Status status = Execute(PiSpec(1'000'001, 7), &job);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(job.id().empty());
  EXPECT_EQ(job.state(), v1::SUCCEEDED);
  EXPECT_DOUBLE_EQ(job.progress(), 1.0);
  ASSERT_TRUE(job.result().has_pi());
  EXPECT_EQ(job.result().pi().samples(), 1'000'001u);
  EXPECT_EQ(job.result().pi().hits(), cpu::CountPiHitsScalar(1'000'001, 7));
  EXPECT_NEAR(job.result().pi().estimate(), M_PI, 0.01);

  // The same job as Get sees it.
  v1::Job stored;
  ASSERT_TRUE(Get(job.id(), &stored).ok());
  EXPECT_EQ(stored.state(), v1::SUCCEEDED);
  EXPECT_EQ(stored.result().pi().hits(), job.result().pi().hits());
}

TEST_F(ExecuteTest, ABadSpecIsRejectedNamingTheField) {
  v1::Job job;
  grpc::Status status = Execute(PiSpec(0, 1), &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("spec.pi.samples"), std::string::npos)
      << status.error_message();
}

TEST_F(ExecuteTest, AJobThatFailsIsAnsweredWithItsError) {
  v1::JobSpec spec = LongParticlesSpec();
  spec.mutable_timeout()->set_nanos(200'000'000);
  v1::Job job;
  grpc::Status status = Execute(spec, &job);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(job.state(), v1::FAILED);
  EXPECT_EQ(job.error().code(), "DEADLINE_EXCEEDED");
  EXPECT_FALSE(job.has_result());
}

TEST_F(ExecuteTest, ACallDeadlineEndsTheCallNotTheJob) {
  v1::Job job;
  grpc::Status status =
      Execute(LongParticlesSpec(), &job, std::chrono::milliseconds(300));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  v1::Job left = OnlyJob();
  EXPECT_TRUE(left.state() == v1::QUEUED || left.state() == v1::RUNNING)
      << v1::JobState_Name(left.state());
  ASSERT_TRUE(Cancel(left.id()).ok());
  EXPECT_EQ(WaitDone(left.id()).state(), v1::CANCELLED);

  // The server goes on answering.
  ASSERT_TRUE(Execute(PiSpec(1000, 1), &job).ok());
  EXPECT_EQ(job.state(), v1::SUCCEEDED);
}

TEST_F(ExecuteTest, ShutdownEndsACallWaitingForAQueuedJob) {
  ServerOptions options = DefaultOptions();
  options.manager.scheduler.max_running = 1;
  StartServer(options);
  v1::Job blocker = MustSubmit(LongParticlesSpec());
  grpc::Status waited;
  std::thread caller([&] {
    v1::Job job;
    waited = Execute(PiSpec(1000, 2), &job);
  });
  // Until the caller's job is queued behind the blocker.
  for (;;) {
    grpc::ClientContext context;
    v1::ListJobsResponse list;
    ASSERT_TRUE(stub_->List(&context, {}, &list).ok());
    if (list.jobs_size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown(std::chrono::milliseconds(200));
  const auto took = std::chrono::steady_clock::now() - start;
  caller.join();
  EXPECT_FALSE(waited.ok());
  // The call ended with the server instead of holding an io thread: the
  // server gives io threads 5 s before it stops them.
  EXPECT_LT(took, std::chrono::seconds(4));
}

}  // namespace
}  // namespace impulse::testing
