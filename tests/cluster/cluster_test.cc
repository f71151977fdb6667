// Cluster mode end to end: a real redis-server, three impulsed replicas
// (--cluster_redis) and haproxy with deploy/haproxy.cfg in front, all on
// loopback and started here. 300 mixed jobs go through the balancer; one
// replica is killed (SIGKILL) while it runs a job; every job must end
// exactly once with the right result, and watchers that reconnect through
// the balancer with after_seq must see every stored event. Then Redis stops
// for a while: the replicas must turn not ready and refuse work with
// UNAVAILABLE, and serve again by themselves once it is back. A second test
// goes through haproxy's TLS front ends (gRPC over h2 by ALPN, and HTTPS),
// with certificates made by tests/security/make_test_certs.sh.
//
// Skips, saying why, when redis-server or haproxy is not installed
// (tools/install_deps.sh installs both).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "compute/cpu/particles_cpu.h"
#include "compute/cpu/pi_cpu.h"
#include "impulse/v1/jobs.grpc.pb.h"
#include "tests/cluster/redis_process.h"
#include "tests/fault/grpc_health.h"
#include "tests/fault/impulsed_process.h"

namespace impulse::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kJobs = 300;
constexpr int kReplicas = 3;
// Every kLongEvery-th job is long enough (several hundred ms on 2 cores) to be
// running when the kill lands: with a third of that, one CI run saw it end
// between the test's look at the log and the kill, leaving nothing to re-run.
// The others take milliseconds.
constexpr int kLongEvery = 30;

bool IsLong(int i) { return i % kLongEvery == kLongEvery / 2; }

v1::JobSpec MixedSpec(int i) {
  v1::JobSpec spec;
  spec.set_device(v1::CPU);
  // Resubmitting after an UNAVAILABLE never makes a second job.
  spec.set_idempotency_key("cluster-test-" + std::to_string(i));
  if (IsLong(i)) {
    // 60,000 particles: their positions (960 KB) still ride inline in Get.
    spec.mutable_particles()->set_random_particles(60'000);
    spec.mutable_particles()->set_seed(i);
    spec.mutable_particles()->set_t_end(0.1);  // 10,000 steps
  } else if (i % 3 == 0) {
    // The book's three particles (ARCHITECTURE.md reference values).
    for (auto [x, y, w] :
         {std::tuple{0.3, 0.5, 1.0}, std::tuple{0.0, -0.5, -1.0},
          std::tuple{-0.1, -0.4, 3.0}}) {
      v1::Particle* p = spec.mutable_particles()->add_particles();
      p->set_x(x);
      p->set_y(y);
      p->set_angular_velocity(w);
    }
    spec.mutable_particles()->set_t_end(0.1);
  } else {
    spec.mutable_pi()->set_samples(100'000 + (i * 7919) % 400'000);
    spec.mutable_pi()->set_seed(i);
  }
  return spec;
}

// "" when the result is right for the spec, else what is wrong.
std::string CheckResult(const v1::JobSpec& spec, const v1::JobResult& result) {
  if (spec.has_pi()) {
    const std::uint64_t want =
        cpu::CountPiHitsScalar(spec.pi().samples(), spec.pi().seed());
    return result.pi().hits() == want
               ? ""
               : "pi hits " + std::to_string(result.pi().hits()) +
                     " != " + std::to_string(want);
  }
  const v1::ParticlesResult& p = result.particles();
  if (spec.particles().random_particles() > 0) {
    // Circular motion keeps each radius (the Euler drift over 10,000 steps
    // of 1e-5 is below 1e-6).
    const ParticleSystem start = cpu::RandomParticles(
        spec.particles().random_particles(), spec.particles().seed());
    if (p.x_size() != static_cast<int>(start.x.size())) return "particle count";
    for (int k = 0; k < p.x_size(); k += 997) {
      const double r0 = std::hypot(start.x[k], start.y[k]);
      const double r1 = std::hypot(p.x(k), p.y(k));
      if (std::abs(r1 - r0) > 1e-5 * std::max(1.0, r0)) return "radius drift";
    }
    return "";
  }
  const double want[3][2] = {
      {0.210269, 0.543863}, {-0.099334, -0.490034}, {0.191358, -0.365227}};
  if (p.x_size() != 3 || p.y_size() != 3) return "particle count";
  for (int k = 0; k < 3; ++k) {
    if (std::abs(p.x(k) - want[k][0]) > 1e-5 ||
        std::abs(p.y(k) - want[k][1]) > 1e-5) {
      return "particle " + std::to_string(k) + " off the book's values";
    }
  }
  return "";
}

bool IsTerminalEvent(const v1::JobEvent& event) {
  return event.type() == v1::STATE_CHANGED &&
         (event.state() == v1::SUCCEEDED || event.state() == v1::FAILED ||
          event.state() == v1::CANCELLED);
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

std::unique_ptr<v1::JobService::Stub> StubFor(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  return v1::JobService::NewStub(grpc::CreateCustomChannel(
      target, grpc::InsecureChannelCredentials(), args));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The last `lines` lines of `text`.
std::string LastLines(const std::string& text, int lines) {
  std::size_t at = text.size();
  while (at > 0 && lines >= 0) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) return text;
    --lines;
  }
  return text.substr(at + 1);
}

// What `command` printed on stdout.
std::string Output(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    pclose(pipe);
  }
  return out;
}

template <typename Predicate>
bool WaitUntil(Predicate done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

// Every event of a job from after_seq 0 to its terminal event, reconnecting
// (with the last seq seen) whenever the stream breaks.
struct WatchLog {
  std::vector<v1::JobEvent> events;
  int reconnects = 0;
  bool ended = false;
};

// `first_event` (may be null) counts up when the first event arrives.
WatchLog WatchToEnd(v1::JobService::Stub& stub, const std::string& id,
                    Clock::time_point deadline, std::atomic<int>* first_event) {
  WatchLog log;
  std::uint64_t after = 0;
  while (!log.ended && Clock::now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         (deadline - Clock::now()));
    v1::WatchRequest request;
    request.set_id(id);
    request.set_after_seq(after);
    auto reader = stub.Watch(&context, request);
    v1::JobEvent event;
    while (reader->Read(&event)) {
      if (log.events.empty() && first_event != nullptr) ++*first_event;
      log.events.push_back(event);
      after = event.seq();
      if (IsTerminalEvent(event)) log.ended = true;
    }
    const grpc::Status status = reader->Finish();
    if (log.ended) break;
    ++log.reconnects;
    std::this_thread::sleep_for(20ms);  // reconnect backoff
  }
  return log;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RedisProcess::Binary().empty() || FindProgram("haproxy").empty()) {
      GTEST_SKIP() << "redis-server or haproxy is not installed "
                      "(tools/install_deps.sh installs both); skipping the "
                      "cluster test";
    }
    const auto t0 = Clock::now();
    dir_ = TestTempDir("cluster");
    redis_ = std::make_unique<RedisProcess>(dir_ + "/redis");
    ASSERT_TRUE(redis_->Start()) << "redis-server did not start";
    for (int r = 0; r < kReplicas; ++r) {
      replicas_.push_back(
          std::make_unique<ImpulsedProcess>(ImpulsedProcess::Options{
              .data_dir = dir_ + "/replica" + std::to_string(r + 1),
              .args = {"--cluster_redis=" + redis_->url(),
                       "--cluster_lease_ms=1500", "--max_running=1",
                       "--io_threads=2"}}));
      ASSERT_TRUE(replicas_.back()->Start()) << replicas_.back()->Log();
    }
    // The balancer's certificate (for 127.0.0.1), signed by a test CA.
    ASSERT_EQ(std::system(("tests/security/make_test_certs.sh " + dir_ +
                           "/certs >/dev/null")
                              .c_str()),
              0)
        << "make_test_certs.sh failed (is the openssl CLI installed?)";
    {
      std::ofstream pem(dir_ + "/certs/lb.pem");
      pem << ReadFile(dir_ + "/certs/server.pem")
          << ReadFile(dir_ + "/certs/server.key");
    }
    const auto t1 = Clock::now();
    StartHaproxy();
    std::printf("setup_s=%.2f haproxy_s=%.2f\n",
                std::chrono::duration<double>(Clock::now() - t0).count(),
                std::chrono::duration<double>(Clock::now() - t1).count());
  }

  void TearDown() override {
    const auto t0 = Clock::now();
    StopProcess(haproxy_);
    const auto t1 = Clock::now();
    replicas_.clear();
    const auto t2 = Clock::now();
    redis_.reset();
    std::printf("teardown haproxy_s=%.2f replicas_s=%.2f redis_s=%.2f\n",
                std::chrono::duration<double>(t1 - t0).count(),
                std::chrono::duration<double>(t2 - t1).count(),
                std::chrono::duration<double>(Clock::now() - t2).count());
  }

  void StartHaproxy() {
    lb_grpc_port_ = FreePort();
    lb_http_port_ = FreePort();
    lb_grpc_tls_port_ = FreePort();
    lb_https_port_ = FreePort();
    setenv("IMPULSE_LB_GRPC_BIND",
           ("127.0.0.1:" + std::to_string(lb_grpc_port_)).c_str(), 1);
    setenv("IMPULSE_LB_HTTP_BIND",
           ("127.0.0.1:" + std::to_string(lb_http_port_)).c_str(), 1);
    setenv("IMPULSE_LB_TLS_PEM", (dir_ + "/certs/lb.pem").c_str(), 1);
    setenv("IMPULSE_LB_GRPC_TLS_BIND",
           ("127.0.0.1:" + std::to_string(lb_grpc_tls_port_)).c_str(), 1);
    setenv("IMPULSE_LB_HTTPS_BIND",
           ("127.0.0.1:" + std::to_string(lb_https_port_)).c_str(), 1);
    for (int r = 0; r < kReplicas; ++r) {
      const std::string n = "IMPULSE_R" + std::to_string(r + 1);
      const ImpulsedProcess& replica = *replicas_[r];
      setenv((n + "_GRPC").c_str(), replica.grpc_target().c_str(), 1);
      setenv((n + "_HTTP").c_str(),
             ("127.0.0.1:" + std::to_string(replica.http_port())).c_str(), 1);
      setenv((n + "_HTTP_PORT").c_str(),
             std::to_string(replica.http_port()).c_str(), 1);
    }
    haproxy_ =
        Spawn({FindProgram("haproxy"), "-db", "-f", "deploy/haproxy.cfg"},
              dir_ + "/haproxy.log");
    // The channel is made once haproxy listens, so it does not start in
    // gRPC's reconnect backoff.
    ASSERT_TRUE(WaitUntil([&] { return Listening(lb_grpc_port_); }, 10s))
        << "haproxy did not listen" << LogTails();
    lb_ = StubFor("127.0.0.1:" + std::to_string(lb_grpc_port_));
    // Up when a gRPC call goes through it to a replica and back. Patient:
    // one CI run (ASan, 2 cores) saw 10 s of haproxy error pages here.
    ASSERT_TRUE(WaitUntil(
        [&] {
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() + 1s);
          v1::GetJobRequest request;
          request.set_id("j-0000000000000000");
          v1::Job job;
          return lb_->Get(&context, request, &job).error_code() ==
                 grpc::StatusCode::NOT_FOUND;
        },
        30s))
        << "haproxy did not balance gRPC" << LogTails();
  }

  // Submits through the balancer, retrying while it answers UNAVAILABLE.
  grpc::Status Submit(const v1::JobSpec& spec, v1::Job* job,
                      std::chrono::milliseconds patience = 10s) {
    const auto deadline = Clock::now() + patience;
    grpc::Status status;
    do {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 5s);
      v1::SubmitRequest request;
      *request.mutable_spec() = spec;
      status = lb_->Submit(&context, request, job);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      std::this_thread::sleep_for(20ms);
    } while (Clock::now() < deadline);
    return status;
  }

  // The job through the balancer once it has ended (nullopt: not in time).
  std::optional<v1::Job> WaitFinished(const std::string& id,
                                      Clock::time_point deadline) {
    while (Clock::now() < deadline) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 2s);
      v1::GetJobRequest request;
      request.set_id(id);
      v1::Job job;
      if (lb_->Get(&context, request, &job).ok() &&
          (job.state() == v1::SUCCEEDED || job.state() == v1::FAILED ||
           job.state() == v1::CANCELLED)) {
        return job;
      }
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }

  // The ends of the balancer's and the replicas' logs, for a failure
  // message: they live in a temporary directory that CI does not keep.
  std::string LogTails() const {
    std::string out = "\n--- haproxy log (last lines) ---\n" +
                      LastLines(ReadFile(dir_ + "/haproxy.log"), 40);
    for (std::size_t r = 0; r < replicas_.size(); ++r) {
      out += "\n--- replica " + std::to_string(r + 1) +
             " log (last lines) ---\n" + LastLines(replicas_[r]->Log(), 15);
    }
    return out;
  }

  std::string AllLogs() const {
    std::string all;
    for (const auto& replica : replicas_) all += replica->Log();
    return all;
  }

  std::string dir_;
  std::unique_ptr<RedisProcess> redis_;
  std::vector<std::unique_ptr<ImpulsedProcess>> replicas_;
  pid_t haproxy_ = -1;
  int lb_grpc_port_ = 0;
  int lb_http_port_ = 0;
  int lb_grpc_tls_port_ = 0;
  int lb_https_port_ = 0;
  std::unique_ptr<v1::JobService::Stub> lb_;
};

TEST_F(ClusterTest, TlsFrontEndsForGrpcAndRest) {
  // gRPC over TLS through the balancer, trusting only the test CA.
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadFile(dir_ + "/certs/ca.pem");
  ASSERT_FALSE(tls.pem_root_certs.empty());
  auto secure = v1::JobService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(lb_grpc_tls_port_),
                          grpc::SslCredentials(tls)));
  const v1::JobSpec spec = MixedSpec(1);  // a pi job
  v1::Job job;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::SubmitRequest request;
    *request.mutable_spec() = spec;
    const grpc::Status status = secure->Submit(&context, request, &job);
    ASSERT_TRUE(status.ok()) << status.error_message() << LogTails();
  }
  const auto deadline = Clock::now() + 20s;
  WatchLog log = WatchToEnd(*secure, job.id(), deadline, nullptr);
  ASSERT_TRUE(log.ended) << "no terminal event over TLS";
  EXPECT_EQ(log.events.back().state(), v1::SUCCEEDED);
  {
    grpc::ClientContext context;
    v1::GetJobRequest request;
    request.set_id(job.id());
    v1::Job done;
    ASSERT_TRUE(secure->Get(&context, request, &done).ok());
    EXPECT_EQ(CheckResult(spec, done.result()), "");
  }

  // The same job over HTTPS, and the REST health route.
  const std::string curl =
      "curl -s --max-time 10 --cacert " + dir_ +
      "/certs/ca.pem https://127.0.0.1:" + std::to_string(lb_https_port_);
  const std::string rest = Output(curl + "/v1/jobs/" + job.id());
  EXPECT_NE(rest.find("\"SUCCEEDED\""), std::string::npos) << rest;
  EXPECT_NE(rest.find(job.id()), std::string::npos) << rest;
  // A client that does not trust the CA is refused at the handshake.
  EXPECT_EQ(Output("curl -s -o /dev/null -w '%{http_code}' --max-time 10 "
                   "https://127.0.0.1:" +
                   std::to_string(lb_https_port_) + "/readyz"),
            "000");
}

TEST_F(ClusterTest, AResultFileIsReadThroughEveryReplica) {
  // A 600 x 600 distance matrix (2.9 MB) is kept in a file by the replica
  // that ran it; the other two read it from that replica.
  constexpr int kPoints = 600;
  std::vector<double> xy(2 * kPoints);
  for (int i = 0; i < 2 * kPoints; ++i) xy[i] = std::sin(0.37 * i) * 10.0;
  // Datasets are per replica: each gets the same one.
  for (const auto& replica : replicas_) {
    auto stub = StubFor(replica->grpc_target());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::Dataset answer;
    auto writer = stub->UploadDataset(&context, &answer);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_name("pts");
    header.mutable_header()->set_format(v1::POINTS_F64);
    header.mutable_header()->set_dims(2);
    ASSERT_TRUE(writer->Write(header));
    v1::UploadDatasetRequest chunk;
    chunk.set_chunk(std::string(reinterpret_cast<const char*>(xy.data()),
                                xy.size() * sizeof(double)));
    chunk.set_last(true);
    ASSERT_TRUE(writer->Write(chunk));
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  v1::JobSpec spec;
  spec.mutable_distance_matrix()->set_dataset("pts");
  v1::Job job;
  const grpc::Status submitted = Submit(spec, &job);
  ASSERT_TRUE(submitted.ok()) << submitted.error_message();
  std::optional<v1::Job> done = WaitFinished(job.id(), Clock::now() + 30s);
  ASSERT_TRUE(done.has_value()) << AllLogs();
  ASSERT_EQ(done->state(), v1::SUCCEEDED) << done->error().message();

  const auto distance = [&](int i, int j) {
    return std::hypot(xy[2 * i] - xy[2 * j], xy[2 * i + 1] - xy[2 * j + 1]);
  };
  for (int r = 0; r < kReplicas; ++r) {
    auto stub = StubFor(replicas_[r]->grpc_target());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 20s);
    v1::GetResultRequest request;
    request.set_id(job.id());
    auto reader = stub->GetResult(&context, request);
    std::uint64_t rows = 0;
    v1::ResultChunk chunk;
    while (reader->Read(&chunk)) {
      const v1::DistanceMatrixResult& m = chunk.result().distance_matrix();
      ASSERT_EQ(m.values_size(), static_cast<int>(m.rows() * kPoints));
      // Spot checks: the first column of each chunk's rows.
      for (std::uint64_t k = 0; k < m.rows(); ++k) {
        const int row = static_cast<int>(m.row_offset() + k);
        ASSERT_NEAR(m.values(static_cast<int>(k * kPoints)), distance(row, 0),
                    1e-9);
      }
      rows += m.rows();
    }
    const grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok())
        << "replica " << r + 1 << ": " << status.error_message();
    EXPECT_EQ(rows, static_cast<std::uint64_t>(kPoints)) << "replica " << r + 1;
  }
  // Two of the three had no file and read it from the third.
  const std::string logs = AllLogs();
  std::size_t forwarded = 0;
  for (std::size_t at = logs.find("GetResult forwarded");
       at != std::string::npos; at = logs.find("GetResult forwarded", at + 1)) {
    ++forwarded;
  }
  EXPECT_EQ(forwarded, 2u) << logs;
}

TEST_F(ClusterTest, JobsSurviveAKilledReplicaAndRedisComesBack) {
  const auto started = Clock::now();
  const auto deadline = started + 50s;

  // 1. 300 mixed jobs through the balancer.
  std::vector<std::string> ids(kJobs);
  std::vector<v1::JobSpec> specs(kJobs);
  for (int i = 0; i < kJobs; ++i) {
    specs[i] = MixedSpec(i);
    v1::Job job;
    const grpc::Status status = Submit(specs[i], &job);
    ASSERT_TRUE(status.ok()) << "job " << i << ": " << status.error_message();
    ids[i] = job.id();
  }

  // 2. Watchers through the balancer: every long job, and the last jobs.
  std::vector<int> watched;
  for (int i = 0; i < kJobs; ++i) {
    if (IsLong(i) || i >= kJobs - 20) watched.push_back(i);
  }
  std::vector<WatchLog> watch_logs(watched.size());
  std::atomic<int> watching{0};  // watchers that got their first event
  std::vector<std::thread> watchers;
  // A failed ASSERT below returns early: the watchers (bounded by the
  // deadline) are joined then too, so the failure is reported instead of
  // std::terminate on a joinable thread.
  struct JoinAll {
    std::vector<std::thread>& threads;
    ~JoinAll() {
      for (std::thread& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } join_watchers{watchers};
  for (std::size_t w = 0; w < watched.size(); ++w) {
    watchers.emplace_back([&, w] {
      auto stub = StubFor("127.0.0.1:" + std::to_string(lb_grpc_port_));
      watch_logs[w] = WatchToEnd(*stub, ids[watched[w]], deadline, &watching);
    });
  }

  // 3. Once every watcher streams (a third of them from each replica),
  // SIGKILL the first replica seen running a long job.
  int killed = -1;
  ASSERT_TRUE(WaitUntil(
      [&] {
        if (watching.load() < static_cast<int>(watched.size())) return false;
        for (int r = 0; r < kReplicas && killed < 0; ++r) {
          const std::string log = replicas_[r]->Log();
          for (int i = 0; i < kJobs; ++i) {
            if (!IsLong(i) || i < kLongEvery) continue;  // past the start
            const std::string job = "job=" + ids[i] + " kind=particles ";
            if (log.find(job + "state=RUNNING") != std::string::npos &&
                log.find(job + "state=SUCCEEDED") == std::string::npos) {
              replicas_[r]->Kill();
              killed = r;
              break;
            }
          }
        }
        return killed >= 0;
      },
      30s))
      << "no replica was seen running a long job";
  const auto killed_at = Clock::now();

  // 4. Every job ends exactly once, SUCCEEDED, with the right result.
  int taken_over = 0;
  for (int i = 0; i < kJobs; ++i) {
    std::optional<v1::Job> job = WaitFinished(ids[i], deadline);
    ASSERT_TRUE(job.has_value())
        << "job " << i << " " << ids[i] << " did not finish";
    ASSERT_EQ(job->state(), v1::SUCCEEDED)
        << ids[i] << ": " << job->error().message();
    std::string why = CheckResult(specs[i], job->result());
    EXPECT_EQ(why, "") << ids[i];
    if (job->attempt() > 1) ++taken_over;
  }
  EXPECT_GE(taken_over, 1) << "the killed replica's job was not re-run";
  const auto all_done = Clock::now();

  for (std::thread& t : watchers) t.join();
  auto stub = StubFor("127.0.0.1:" + std::to_string(lb_grpc_port_));
  int reconnects = 0;
  for (int i = 0; i < kJobs; ++i) {
    // The stored events: one terminal event, the last one.
    WatchLog full = WatchToEnd(*stub, ids[i], deadline + 10s, nullptr);
    ASSERT_TRUE(full.ended) << ids[i];
    int terminal = 0;
    for (std::size_t k = 0; k < full.events.size(); ++k) {
      if (k > 0) {
        ASSERT_GT(full.events[k].seq(), full.events[k - 1].seq()) << ids[i];
      }
      terminal += IsTerminalEvent(full.events[k]);
    }
    EXPECT_EQ(terminal, 1) << ids[i];
    EXPECT_TRUE(IsTerminalEvent(full.events.back())) << ids[i];
    // A watcher that reconnected through the balancer saw exactly these.
    for (std::size_t w = 0; w < watched.size(); ++w) {
      if (watched[w] != i) continue;
      const WatchLog& seen = watch_logs[w];
      reconnects += seen.reconnects;
      ASSERT_TRUE(seen.ended) << ids[i];
      ASSERT_EQ(seen.events.size(), full.events.size()) << ids[i];
      for (std::size_t k = 0; k < seen.events.size(); ++k) {
        EXPECT_EQ(seen.events[k].seq(), full.events[k].seq()) << ids[i];
      }
    }
  }
  // The REST gateway through the balancer too: Get, and the SSE stream
  // resumed after a seq.
  for (int i : {0, 1, kLongEvery + kLongEvery / 2}) {
    const HttpAnswer job =
        HttpRequest(lb_http_port_, "GET", "/v1/jobs/" + ids[i]);
    EXPECT_EQ(job.status, 200) << job.body;
    EXPECT_NE(job.body.find("\"SUCCEEDED\""), std::string::npos) << job.body;
    WatchLog full = WatchToEnd(*stub, ids[i], deadline + 10s, nullptr);
    ASSERT_GE(full.events.size(), 2u);
    const std::uint64_t after = full.events[full.events.size() - 2].seq();
    const HttpAnswer sse = HttpRequest(
        lb_http_port_, "GET",
        "/v1/jobs/" + ids[i] + "/events?after_seq=" + std::to_string(after));
    EXPECT_EQ(sse.status, 200);
    // Exactly one event: the terminal one after `after`.
    EXPECT_EQ(Count("\n" + sse.body, "\nid: "), 1u) << sse.body;
    EXPECT_NE(sse.body.find("id: " + std::to_string(full.events.back().seq())),
              std::string::npos)
        << sse.body;
  }
  std::printf(
      "jobs=%d killed=replica%d taken_over=%d watcher_reconnects=%d "
      "submit_to_kill_s=%.2f kill_to_all_done_s=%.2f\n",
      kJobs, killed + 1, taken_over, reconnects,
      std::chrono::duration<double>(killed_at - started).count(),
      std::chrono::duration<double>(all_done - killed_at).count());

  EXPECT_GE(reconnects, 1) << "no watcher was cut off by the kill";

  // 5. Redis stops: the live replicas turn not ready and refuse new work.
  std::vector<int> alive;
  for (int r = 0; r < kReplicas; ++r) {
    if (r != killed) alive.push_back(r);
  }
  // A job that runs through the outage (1-2 s of compute): its result is
  // stored once Redis is back, still exactly once.
  v1::JobSpec through_spec = MixedSpec(kLongEvery / 2);
  through_spec.set_idempotency_key("cluster-test-through-outage");
  through_spec.mutable_particles()->set_random_particles(20'000);
  through_spec.mutable_particles()->set_t_end(1.0);
  v1::Job through;
  ASSERT_TRUE(Submit(through_spec, &through).ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        grpc::ClientContext context;
        v1::GetJobRequest request;
        request.set_id(through.id());
        v1::Job job;
        return lb_->Get(&context, request, &job).ok() &&
               job.state() == v1::RUNNING;
      },
      10s));
  const std::string warn =
      "redis=127.0.0.1:" + std::to_string(redis_->port()) + " unreachable";
  redis_->Stop();
  const auto redis_stopped = Clock::now();
  for (int r : alive) {
    ImpulsedProcess& replica = *replicas_[r];
    EXPECT_TRUE(WaitUntil(
        [&] {
          return HttpRequest(replica.http_port(), "GET", "/readyz").status ==
                 503;
        },
        10s))
        << "replica" << r + 1 << " still ready without Redis";
    EXPECT_TRUE(
        WaitUntil([&] { return HealthStatus(replica.grpc_target()) == 2; }, 5s))
        << "replica" << r + 1 << " gRPC health still SERVING";
    auto direct = StubFor(replica.grpc_target());
    grpc::ClientContext context;
    v1::SubmitRequest request;
    *request.mutable_spec() = MixedSpec(kJobs + r);
    v1::Job job;
    EXPECT_EQ(direct->Submit(&context, request, &job).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  {
    v1::Job job;
    EXPECT_EQ(Submit(MixedSpec(kJobs + 10), &job, 0ms).error_code(),
              grpc::StatusCode::UNAVAILABLE)
        << "the balancer accepted work while Redis was down";
  }
  // The outage lasts a few seconds (longer than a lease).
  std::this_thread::sleep_until(redis_stopped + 3s);

  // 6. Redis returns (with its data): the replicas serve again by themselves.
  ASSERT_TRUE(redis_->Start()) << "redis-server did not restart";
  for (int r : alive) {
    ImpulsedProcess& replica = *replicas_[r];
    EXPECT_TRUE(WaitUntil(
        [&] {
          return HttpRequest(replica.http_port(), "GET", "/readyz").status ==
                 200;
        },
        10s))
        << "replica" << r + 1 << " did not become ready again";
    EXPECT_TRUE(
        WaitUntil([&] { return HealthStatus(replica.grpc_target()) == 1; }, 5s))
        << "replica" << r + 1 << " gRPC health not SERVING again";
    // The outage is logged once, not once per call.
    EXPECT_EQ(Count(replica.Log(), warn), 1u) << replica.Log();
  }
  v1::Job after;
  const grpc::Status resubmitted = Submit(MixedSpec(kJobs + 20), &after);
  ASSERT_TRUE(resubmitted.ok()) << resubmitted.error_message();
  std::optional<v1::Job> finished =
      WaitFinished(after.id(), Clock::now() + 15s);
  ASSERT_TRUE(finished.has_value());
  EXPECT_EQ(finished->state(), v1::SUCCEEDED);
  std::optional<v1::Job> survived =
      WaitFinished(through.id(), Clock::now() + 20s);
  ASSERT_TRUE(survived.has_value()) << "the job running during the outage";
  EXPECT_EQ(survived->state(), v1::SUCCEEDED);
  EXPECT_EQ(CheckResult(through_spec, survived->result()), "");
  WatchLog through_events =
      WatchToEnd(*stub, through.id(), Clock::now() + 10s, nullptr);
  int through_terminal = 0;
  for (const v1::JobEvent& event : through_events.events) {
    through_terminal += IsTerminalEvent(event);
  }
  EXPECT_EQ(through_terminal, 1);
  std::optional<v1::Job> old = WaitFinished(ids[0], Clock::now() + 5s);
  ASSERT_TRUE(old.has_value()) << "a job from before the outage is gone";
  EXPECT_EQ(CheckResult(specs[0], old->result()), "");
  std::printf("total_s=%.2f\n",
              std::chrono::duration<double>(Clock::now() - started).count());
}

}  // namespace
}  // namespace impulse::testing
