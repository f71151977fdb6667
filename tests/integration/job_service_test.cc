// JobService end to end over real gRPC on loopback: submit, watch, resume,
// cancel, results, listing, admission control and bad input.

#include <chrono>
#include <cmath>
#include <set>
#include <thread>

#include "compute/cpu/pi_cpu.h"
#include "tests/fault/grpc_health.h"
#include "tests/integration/server_fixture.h"

namespace impulse::testing {
namespace {

using std::chrono::steady_clock;

bool IsTerminalEvent(const v1::JobEvent& e) {
  return e.type() == v1::STATE_CHANGED &&
         (e.state() == v1::SUCCEEDED || e.state() == v1::FAILED ||
          e.state() == v1::CANCELLED);
}

TEST_F(ServerTest, PiJobRunsToTheExactScalarCount) {
  v1::Job job = MustSubmit(PiSpec(1'000'001, 7));
  EXPECT_FALSE(job.id().empty());
  // Small jobs may already be running or done when Submit answers.
  EXPECT_TRUE(job.state() == v1::QUEUED || job.state() == v1::RUNNING ||
              job.state() == v1::SUCCEEDED)
      << v1::JobState_Name(job.state());

  std::vector<v1::JobEvent> events = WatchAll(job.id(), 0);
  ASSERT_FALSE(events.empty());
  for (std::size_t i = 1; i < events.size(); ++i) {
    EXPECT_GT(events[i].seq(), events[i - 1].seq());
    EXPECT_EQ(events[i].job_id(), job.id());
  }
  EXPECT_EQ(events.front().state(), v1::QUEUED);
  EXPECT_TRUE(IsTerminalEvent(events.back()));
  EXPECT_EQ(events.back().state(), v1::SUCCEEDED);

  v1::Job done;
  ASSERT_TRUE(Get(job.id(), &done).ok());
  EXPECT_EQ(done.state(), v1::SUCCEEDED);
  EXPECT_EQ(done.placed_on(), v1::CPU);
  ASSERT_TRUE(done.result().has_pi());
  EXPECT_EQ(done.result().pi().samples(), 1'000'001u);
  EXPECT_EQ(done.result().pi().hits(), cpu::CountPiHitsScalar(1'000'001, 7));
  EXPECT_NEAR(done.result().pi().estimate(), M_PI, 0.01);
  EXPECT_DOUBLE_EQ(done.progress(), 1.0);
}

TEST_F(ServerTest, RunStreamsTheBookParticlesToTheReferenceValues) {
  v1::RunRequest request;
  v1::ParticlesSpec* spec = request.mutable_spec()->mutable_particles();
  const double initial[3][3] = {
      {0.3, 0.5, 1}, {0.0, -0.5, -1}, {-0.1, -0.4, 3}};
  for (const auto& p : initial) {
    v1::Particle* particle = spec->add_particles();
    particle->set_x(p[0]);
    particle->set_y(p[1]);
    particle->set_angular_velocity(p[2]);
  }
  spec->set_t_end(0.1);
  spec->set_snapshot_every(1000);

  grpc::ClientContext context;
  auto reader = stub_->Run(&context, request);
  std::vector<v1::JobEvent> events;
  v1::JobEvent event;
  while (reader->Read(&event)) events.push_back(event);
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), v1::SUCCEEDED);
  bool saw_snapshot = false;
  for (const v1::JobEvent& e : events) saw_snapshot |= e.has_particles();
  EXPECT_TRUE(saw_snapshot);

  v1::Job job;
  ASSERT_TRUE(Get(events.back().job_id(), &job).ok());
  const v1::ParticlesResult& result = job.result().particles();
  ASSERT_EQ(result.x_size(), 3);
  EXPECT_EQ(result.steps(), 10'000u);
  const double expected[3][2] = {
      {0.210269, 0.543863}, {-0.099334, -0.490034}, {0.191358, -0.365227}};
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(result.x(i), expected[i][0], 1e-5) << "particle " << i;
    EXPECT_NEAR(result.y(i), expected[i][1], 1e-5) << "particle " << i;
  }
}

TEST_F(ServerTest, WatchResumesAfterAGivenSequenceNumber) {
  v1::JobSpec spec;
  spec.mutable_particles()->set_random_particles(2000);
  spec.mutable_particles()->set_t_end(0.5);
  v1::Job job = MustSubmit(spec);
  std::vector<v1::JobEvent> all = WatchAll(job.id(), 0);
  ASSERT_GE(all.size(), 3u);
  const std::uint64_t resume_after = all[all.size() / 2].seq();
  std::vector<v1::JobEvent> rest = WatchAll(job.id(), resume_after);
  ASSERT_FALSE(rest.empty());
  EXPECT_GT(rest.front().seq(), resume_after);
  EXPECT_EQ(rest.back().seq(), all.back().seq());
  EXPECT_TRUE(IsTerminalEvent(rest.back()));
  // Resuming after the terminal event ends at once with nothing new.
  grpc::Status status;
  EXPECT_TRUE(WatchAll(job.id(), all.back().seq(), &status).empty());
  EXPECT_TRUE(status.ok());
}

TEST_F(ServerTest, WatchersStartedBeforeAndDuringAJobSeeTheSameEnd) {
  v1::Job job = MustSubmit(LongParticlesSpec());
  std::vector<v1::JobEvent> seen_by_early;
  std::thread early([&] { seen_by_early = WatchAll(job.id(), 0); });
  // Wait until it runs, then cancel; both watchers must end on CANCELLED.
  for (;;) {
    v1::Job now;
    ASSERT_TRUE(Get(job.id(), &now).ok());
    if (now.state() == v1::RUNNING && now.progress() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    const auto start = steady_clock::now();
    ASSERT_TRUE(Cancel(job.id()).ok());
    std::vector<v1::JobEvent> late = WatchAll(job.id(), 0);
    const auto elapsed = steady_clock::now() - start;
    ASSERT_FALSE(late.empty());
    EXPECT_EQ(late.back().state(), v1::CANCELLED);
    // A kernel checks its cancel flag every few milliseconds; a job that
    // ignored it would run for minutes.
    EXPECT_LT(elapsed, std::chrono::seconds(2));
  }
  early.join();
  ASSERT_FALSE(seen_by_early.empty());
  EXPECT_EQ(seen_by_early.back().state(), v1::CANCELLED);
  v1::Job final_job;
  ASSERT_TRUE(Get(job.id(), &final_job).ok());
  EXPECT_EQ(final_job.state(), v1::CANCELLED);
  EXPECT_EQ(final_job.error().code(), "CANCELLED");
}

TEST_F(ServerTest, CancellingAQueuedJobEndsItAtOnce) {
  ServerOptions options = DefaultOptions();
  options.manager.scheduler.cpu_threads = 1;
  options.manager.scheduler.max_running = 1;
  StartServer(options);
  v1::Job blocker = MustSubmit(LongParticlesSpec());
  v1::Job queued = MustSubmit(PiSpec(1000, 1));
  v1::Job answer;
  ASSERT_TRUE(Cancel(queued.id(), &answer).ok());
  EXPECT_EQ(answer.state(), v1::CANCELLED);
  ASSERT_TRUE(Cancel(blocker.id()).ok());
  EXPECT_EQ(WaitDone(blocker.id()).state(), v1::CANCELLED);
}

TEST_F(ServerTest, HigherPriorityRunsFirstThenOlder) {
  ServerOptions options = DefaultOptions();
  options.manager.scheduler.cpu_threads = 1;
  options.manager.scheduler.max_running = 1;
  StartServer(options);
  v1::Job blocker = MustSubmit(LongParticlesSpec());
  v1::JobSpec low = PiSpec(1000, 1);
  v1::JobSpec high = PiSpec(1000, 2);
  high.set_priority(10);
  v1::Job low_old = MustSubmit(low);
  v1::Job low_new = MustSubmit(low);
  v1::Job high_job = MustSubmit(high);
  ASSERT_TRUE(Cancel(blocker.id()).ok());
  v1::Job a = WaitDone(high_job.id());
  v1::Job b = WaitDone(low_old.id());
  v1::Job c = WaitDone(low_new.id());
  auto start_of = [](const v1::Job& j) {
    return j.start_time().seconds() * 1'000'000'000LL + j.start_time().nanos();
  };
  EXPECT_LE(start_of(a), start_of(b));
  EXPECT_LE(start_of(b), start_of(c));
}

TEST_F(ServerTest, AFullQueueAnswersResourceExhausted) {
  ServerOptions options = DefaultOptions();
  options.manager.scheduler.cpu_threads = 1;
  options.manager.scheduler.max_running = 1;
  options.manager.scheduler.max_queued = 2;
  StartServer(options);
  v1::Job blocker = MustSubmit(LongParticlesSpec());
  // Wait until the blocker has left the queue for the worker.
  for (;;) {
    v1::Job now;
    ASSERT_TRUE(Get(blocker.id(), &now).ok());
    if (now.state() == v1::RUNNING) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  MustSubmit(PiSpec(1000, 1));
  MustSubmit(PiSpec(1000, 2));
  v1::Job rejected;
  grpc::ClientContext context;
  v1::SubmitRequest request;
  *request.mutable_spec() = PiSpec(1000, 3);
  grpc::Status status = stub_->Submit(&context, request, &rejected);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("queue is full"), std::string::npos);
  EXPECT_EQ(context.GetServerTrailingMetadata().count("retry-after-ms"), 1u);
  ASSERT_TRUE(Cancel(blocker.id()).ok());
}

TEST_F(ServerTest, BadInputIsRejectedNamingTheField) {
  struct Case {
    std::string name;
    v1::JobSpec spec;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({"no kind", v1::JobSpec(), "spec.kind"});
  cases.push_back({"zero samples", PiSpec(0, 1), "spec.pi.samples"});
  cases.push_back(
      {"too many samples", PiSpec(1ULL << 62, 1), "spec.pi.samples"});
  {
    v1::JobSpec spec;
    spec.mutable_particles()->set_t_end(0.1);
    cases.push_back({"no particles", spec, "spec.particles.particles"});
  }
  auto one_particle = [](double x, double y, double w, double t_end) {
    v1::JobSpec spec;
    v1::Particle* p = spec.mutable_particles()->add_particles();
    p->set_x(x);
    p->set_y(y);
    p->set_angular_velocity(w);
    spec.mutable_particles()->set_t_end(t_end);
    return spec;
  };
  cases.push_back({"NaN x", one_particle(NAN, 0.5, 1, 0.1),
                   "spec.particles.particles[0].x"});
  cases.push_back({"infinite y", one_particle(0.5, INFINITY, 1, 0.1),
                   "spec.particles.particles[0].y"});
  cases.push_back({"NaN w", one_particle(0.5, 0.5, NAN, 0.1),
                   "spec.particles.particles[0].angular_velocity"});
  cases.push_back({"negative t_end", one_particle(0.5, 0.5, 1, -1),
                   "spec.particles.t_end"});
  cases.push_back(
      {"NaN t_end", one_particle(0.5, 0.5, 1, NAN), "spec.particles.t_end"});
  {
    v1::JobSpec spec = one_particle(0.5, 0.5, 1, 0.1);
    spec.mutable_particles()->set_timestep(0);
    cases.push_back({"zero timestep", spec, "spec.particles.timestep"});
    spec.mutable_particles()->set_timestep(-1e-5);
    cases.push_back({"negative timestep", spec, "spec.particles.timestep"});
  }
  {
    v1::JobSpec spec = one_particle(0.5, 0.5, 1, 0.1);
    spec.mutable_particles()->set_random_particles(4'000'000'000u);
    spec.mutable_particles()->clear_particles();
    cases.push_back(
        {"too many particles", spec, "spec.particles.random_particles"});
  }
  {
    v1::JobSpec spec = one_particle(0.5, 0.5, 1, 1e9);
    cases.push_back({"too many steps", spec, "spec.particles.t_end"});
  }
  {
    v1::JobSpec spec = PiSpec(10, 1);
    spec.set_device(static_cast<v1::Device>(42));
    cases.push_back({"unknown device", spec, "spec.device"});
  }
  {
    v1::JobSpec spec = PiSpec(10, 1);
    for (int i = 0; i < 100; ++i)
      (*spec.mutable_labels())["k" + std::to_string(i)] = "v";
    cases.push_back({"too many labels", spec, "spec.labels"});
  }
  for (const Case& c : cases) {
    v1::Job job;
    grpc::Status status = Submit(c.spec, &job);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.name;
    EXPECT_EQ(status.error_message().rfind(c.field + ":", 0), 0u)
        << c.name << ": " << status.error_message();
  }
  // The server keeps serving.
  EXPECT_EQ(WaitDone(MustSubmit(PiSpec(100, 1)).id()).state(), v1::SUCCEEDED);
}

TEST_F(ServerTest, GpuIsRefusedCleanlyWithoutAGpu) {
  v1::JobSpec spec = PiSpec(1000, 1);
  spec.set_device(v1::GPU);
  v1::Job job;
  grpc::Status status = Submit(spec, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("spec.device"), std::string::npos);
  spec.set_device(v1::AUTO);
  EXPECT_EQ(WaitDone(MustSubmit(spec).id()).placed_on(), v1::CPU);
}

TEST_F(ServerTest, UnknownJobsAreNotFound) {
  v1::Job job;
  EXPECT_EQ(Get("j-nope", &job).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status status;
  WatchAll("j-nope", 0, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Cancel("j-nope").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, IdempotencyKeyReturnsTheSameJob) {
  v1::JobSpec spec = PiSpec(1000, 5);
  spec.set_idempotency_key("retry-me");
  v1::Job first = MustSubmit(spec);
  v1::Job second = MustSubmit(spec);
  EXPECT_EQ(first.id(), second.id());
  spec.mutable_pi()->set_samples(2000);
  v1::Job other;
  grpc::Status status = Submit(spec, &other);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(status.error_message().find("spec.idempotency_key"),
            std::string::npos);
}

TEST_F(ServerTest, ListFiltersByLabelAndStateAndPages) {
  std::set<std::string> tagged;
  for (int i = 0; i < 5; ++i) {
    v1::JobSpec spec = PiSpec(1000, i);
    (*spec.mutable_labels())["team"] = "blue";
    tagged.insert(MustSubmit(spec).id());
  }
  MustSubmit(PiSpec(1000, 99));  // untagged
  for (const std::string& id : tagged) WaitDone(id);

  std::set<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext context;
    v1::ListJobsRequest request;
    (*request.mutable_labels())["team"] = "blue";
    request.set_state(v1::SUCCEEDED);
    request.set_page_size(2);
    request.set_page_token(token);
    v1::ListJobsResponse response;
    ASSERT_TRUE(stub_->List(&context, request, &response).ok());
    EXPECT_LE(response.jobs_size(), 2);
    for (const v1::Job& job : response.jobs()) {
      EXPECT_TRUE(listed.insert(job.id()).second)
          << "listed twice: " << job.id();
      EXPECT_FALSE(job.has_result());
    }
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(listed, tagged);
  EXPECT_EQ(pages, 3);

  grpc::ClientContext context;
  v1::ListJobsRequest bad;
  bad.set_page_token("garbage");
  v1::ListJobsResponse response;
  grpc::Status status = stub_->List(&context, bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, LargeResultsComeBackInChunks) {
  v1::JobSpec spec;
  spec.mutable_particles()->set_random_particles(100'000);
  spec.mutable_particles()->set_t_end(5e-5);  // 5 steps
  v1::Job job = WaitDone(MustSubmit(spec).id());
  ASSERT_EQ(job.state(), v1::SUCCEEDED);
  EXPECT_GT(job.result_bytes(), 1u << 20);
  EXPECT_FALSE(job.has_result());  // too big to inline

  grpc::ClientContext context;
  v1::GetResultRequest request;
  request.set_id(job.id());
  auto reader = stub_->GetResult(&context, request);
  v1::ResultChunk chunk;
  std::uint64_t particles = 0;
  std::uint32_t chunks = 0;
  bool last = false;
  while (reader->Read(&chunk)) {
    EXPECT_EQ(chunk.index(), chunks++);
    EXPECT_EQ(chunk.result().particles().offset(), particles);
    particles += chunk.result().particles().x_size();
    last = chunk.last();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_TRUE(last);
  EXPECT_GE(chunks, 2u);
  EXPECT_EQ(particles, 100'000u);
}

TEST_F(ServerTest, ResultOfAnUnfinishedJobIsAFailedPrecondition) {
  v1::Job job = MustSubmit(LongParticlesSpec());
  grpc::ClientContext context;
  v1::GetResultRequest request;
  request.set_id(job.id());
  auto reader = stub_->GetResult(&context, request);
  v1::ResultChunk chunk;
  EXPECT_FALSE(reader->Read(&chunk));
  EXPECT_EQ(reader->Finish().error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Cancel(job.id()).ok());
}

TEST_F(ServerTest, HundredConcurrentClientsEachRunJobs) {
  constexpr int kClients = 100;
  constexpr int kJobsEach = 3;
  std::vector<std::thread> clients;
  std::atomic<int> succeeded{0};
  std::atomic<int> wrong{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = v1::JobService::NewStub(NewChannel());
      for (int j = 0; j < kJobsEach; ++j) {
        const std::uint64_t samples = 10'000 + c * 7 + j;
        v1::RunRequest request;
        *request.mutable_spec() = PiSpec(samples, c);
        grpc::ClientContext context;
        auto reader = stub->Run(&context, request);
        v1::JobEvent event, last;
        while (reader->Read(&event)) last = event;
        if (!reader->Finish().ok() || last.state() != v1::SUCCEEDED) {
          ++wrong;
          continue;
        }
        v1::Job job;
        grpc::ClientContext get_context;
        v1::GetJobRequest get;
        get.set_id(last.job_id());
        if (!stub->Get(&get_context, get, &job).ok() ||
            job.result().pi().hits() != cpu::CountPiHitsScalar(samples, c)) {
          ++wrong;
          continue;
        }
        ++succeeded;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(succeeded.load(), kClients * kJobsEach);
}

TEST_F(ServerTest, HealthServiceReportsServing) {
  EXPECT_EQ(HealthStatus("127.0.0.1:" + std::to_string(server_->grpc_port())),
            1);  // status: SERVING
}

}  // namespace
}  // namespace impulse::testing

namespace impulse::testing {
namespace {

TEST_F(ServerTest, DrainRefusesNewJobsLetsRunningOnesFinishAndTellsWatchers) {
  ServerOptions options = DefaultOptions();
  options.manager.scheduler.cpu_threads = 1;
  options.manager.scheduler.max_running = 1;
  StartServer(options);
  v1::Job running = MustSubmit(PiSpec(400'000'000, 1));  // a few hundred ms
  v1::Job queued = MustSubmit(PiSpec(1000, 2));
  while (true) {
    v1::Job now;
    ASSERT_TRUE(Get(running.id(), &now).ok());
    if (now.state() == v1::RUNNING) break;
  }
  std::vector<v1::JobEvent> running_events, queued_events;
  std::thread watch_running(
      [&] { running_events = WatchAll(running.id(), 0); });
  std::thread watch_queued([&] { queued_events = WatchAll(queued.id(), 0); });
  std::this_thread::sleep_for(
      std::chrono::milliseconds(20));  // let both attach

  std::thread stopper([&] { server_->Shutdown(std::chrono::seconds(30)); });
  // Until the drain begins a submit queues behind the running job; from then
  // on it is refused. (Asked over gRPC, not through server_, which Shutdown
  // tears down on the other thread.)
  grpc::Status status;
  for (int i = 0; i < 100'000 && status.ok(); ++i) {
    v1::Job job;
    status = Submit(PiSpec(1000, 3), &job);
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  EXPECT_NE(status.error_message().find("shutting down"), std::string::npos)
      << status.error_message();
  stopper.join();
  watch_running.join();
  watch_queued.join();

  ASSERT_FALSE(running_events.empty());
  EXPECT_EQ(running_events.back().state(),
            v1::SUCCEEDED);  // finished, not cut off
  ASSERT_FALSE(queued_events.empty());
  EXPECT_EQ(queued_events.back().state(), v1::QUEUED);
  EXPECT_NE(queued_events.back().message().find("shutting down"),
            std::string::npos);
}

}  // namespace
}  // namespace impulse::testing
