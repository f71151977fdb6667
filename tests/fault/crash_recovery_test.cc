// Kill -9 the real impulsed binary again and again while it runs a stream of
// mixed jobs, restart it on the same journal each time, and check that every
// job the server accepted ends in exactly one terminal state with the right
// result.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "compute/cpu/pi_cpu.h"
#include "impulse/v1/jobs.grpc.pb.h"

extern char** environ;

namespace impulse {
namespace {

using namespace std::chrono_literals;

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// One impulsed process on a fixed port and data directory.
class ServerProcess {
 public:
  ServerProcess(int port, std::string data_dir)
      : port_(port), data_dir_(std::move(data_dir)) {}
  ~ServerProcess() { Kill(); }

  void Start() {
    const std::string listen =
        "--grpc_listen=127.0.0.1:" + std::to_string(port_);
    const std::string data = "--data_dir=" + data_dir_;
    const std::string log = data_dir_ + "/server.log";
    std::vector<std::string> args = {"server/impulsed",
                                     listen,
                                     data,
                                     "--http_listen=127.0.0.1:0",
                                     "--cpu_threads=2",
                                     "--log_level=warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    ASSERT_EQ(
        posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ),
        0);
    posix_spawn_file_actions_destroy(&actions);
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  int port_;
  std::string data_dir_;
  pid_t pid_ = -1;
};

struct Expected {
  v1::JobSpec spec;
};

TEST(CrashRecoveryTest, EveryAcceptedJobEndsOnceWithTheRightResultAcrossKills) {
  constexpr int kJobs = 200;
  constexpr int kKills = 20;
  const std::string data_dir = std::string(getenv("TEST_TMPDIR")) + "/crash";
  std::filesystem::remove_all(data_dir);
  std::filesystem::create_directories(data_dir);
  const int port = FreePort();
  ServerProcess server(port, data_dir);
  server.Start();

  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  auto channel =
      grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                grpc::InsecureChannelCredentials(), args);
  auto stub = v1::JobService::NewStub(channel);

  std::mt19937_64 rng(42);
  std::map<std::string, v1::JobSpec> accepted;
  int submitted = 0;
  int kills = 0;
  auto next_kill = std::chrono::steady_clock::now() + 150ms;
  while (submitted < kJobs || kills < kKills) {
    if (submitted < kJobs) {
      v1::JobSpec spec;
      if (submitted % 3 == 0) {
        // Long enough to be running when a kill lands.
        spec.mutable_particles()->set_random_particles(20'000);
        spec.mutable_particles()->set_seed(submitted);
        spec.mutable_particles()->set_t_end(0.05);  // 5,000 steps
      } else {
        spec.mutable_pi()->set_samples(100'000 + rng() % 5'000'000);
        spec.mutable_pi()->set_seed(submitted);
      }
      spec.set_device(v1::CPU);
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      context.set_deadline(std::chrono::system_clock::now() + 10s);
      v1::SubmitRequest request;
      *request.mutable_spec() = spec;
      v1::Job job;
      if (stub->Submit(&context, request, &job).ok())
        accepted.emplace(job.id(), spec);
      ++submitted;
    } else {
      std::this_thread::sleep_for(10ms);
    }
    if (std::chrono::steady_clock::now() >= next_kill && kills < kKills) {
      server.Kill();
      ++kills;
      server.Start();
      next_kill = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(50 + rng() % 200);
    }
  }
  ASSERT_GE(kills, kKills);
  ASSERT_GT(accepted.size(), kJobs / 2u);

  // Let the last incarnation finish everything. A call can still land on a
  // connection to a killed process and fail with UNAVAILABLE; like any
  // client, resume the watch after the last event seen.
  for (const auto& [id, spec] : accepted) {
    int terminal_events = 0;
    std::uint64_t after_seq = 0;
    grpc::Status status;
    for (int attempt = 0; attempt < 5; ++attempt) {
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      context.set_deadline(std::chrono::system_clock::now() + 120s);
      v1::WatchRequest request;
      request.set_id(id);
      request.set_after_seq(after_seq);
      auto reader = stub->Watch(&context, request);
      v1::JobEvent event;
      while (reader->Read(&event)) {
        after_seq = event.seq();
        terminal_events +=
            event.type() == v1::STATE_CHANGED &&
            (event.state() == v1::SUCCEEDED || event.state() == v1::FAILED ||
             event.state() == v1::CANCELLED);
      }
      status = reader->Finish();
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    }
    ASSERT_TRUE(status.ok())
        << id << ": " << status.error_code() << " " << status.error_message();
    EXPECT_EQ(terminal_events, 1) << id;

    grpc::ClientContext get_context;
    v1::GetJobRequest get;
    get.set_id(id);
    v1::Job job;
    ASSERT_TRUE(stub->Get(&get_context, get, &job).ok()) << id << " was lost";
    ASSERT_EQ(job.state(), v1::SUCCEEDED) << id << " " << job.error().message();
    if (spec.has_pi()) {
      EXPECT_EQ(job.result().pi().hits(),
                cpu::CountPiHitsScalar(spec.pi().samples(), spec.pi().seed()))
          << id;
    } else {
      EXPECT_EQ(job.result_bytes() > 0, true) << id;
      EXPECT_EQ(job.result().particles().steps(), 5'000u) << id;
      EXPECT_EQ(job.result().particles().x_size(), 20'000) << id;
    }
  }
  server.Kill();
}

}  // namespace
}  // namespace impulse
