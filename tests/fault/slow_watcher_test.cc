// Watchers that never read, against the real impulsed binary: 64 gRPC Watch
// calls and 64 SSE connections that never read a byte while a job emits a
// stream of large progress events (1,000-particle snapshots, ~16 KB each).
// The server's memory must level off, a watcher that does read must get each
// event about as soon as without them, the stuck streams must cost the io
// threads nothing once their buffers are full, the next job must run in its
// usual time, and once the stuck clients go every watcher coroutine must end.
//
// The machine is shared and small, so time-based checks compare against a
// baseline run in the same process and allow wide margins; the cost of the
// stuck streams is measured as CPU time of the server's io threads, which
// load elsewhere does not inflate.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "impulse/v1/jobs.grpc.pb.h"
#include "tests/fault/impulsed_process.h"

namespace impulse::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kStuckGrpc = 64;
constexpr int kStuckSse = 64;
constexpr int kChannels = 4;

// `small_window`: the client takes in at most about 16 KiB per call that it
// has not read (no BDP growth of the window), so the server's writes to a
// call that is never read block soon, as they would for a peer that stopped
// reading its socket. Without it the client library buffers megabytes.
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& target,
                                          bool small_window = false) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // its own connection
  if (small_window) {
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 << 10);
  }
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                   args);
}

// A particles job that reports a 1,000-particle snapshot every chunk (a few
// ms; the event log coalesces them to one per 50 ms) and is stopped by its
// timeout, so every run lasts the same.
v1::JobSpec Emitter() {
  v1::JobSpec spec;
  spec.mutable_particles()->set_random_particles(1000);
  spec.mutable_particles()->set_t_end(500);  // 5e7 steps: far more than 2 s
  spec.mutable_particles()->set_snapshot_every(1);
  spec.set_device(v1::CPU);
  spec.mutable_timeout()->set_seconds(6);
  return spec;
}

// Each seed once: the result cache would answer a repeated spec at once.
v1::JobSpec Pi(std::uint64_t seed) {
  v1::JobSpec spec;
  spec.mutable_pi()->set_samples(300'000'000);
  spec.mutable_pi()->set_seed(seed);
  spec.set_device(v1::CPU);
  return spec;
}

double Seconds(const google::protobuf::Timestamp& a,
               const google::protobuf::Timestamp& b) {
  return static_cast<double>(b.seconds() - a.seconds()) +
         static_cast<double>(b.nanos() - a.nanos()) / 1e9;
}

// What a reading watcher saw of a job.
struct Watched {
  int events = 0;
  // Longest time from an event's append on the server (its timestamp) to its
  // arrival here; both ends read the same clock.
  double max_delay_seconds = 0;
  v1::JobEvent last;
};

double SinceEpoch(const google::protobuf::Timestamp& time) {
  return static_cast<double>(time.seconds()) +
         static_cast<double>(time.nanos()) / 1e9;
}

Watched WatchToEnd(v1::JobService::Stub& stub, const std::string& id) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  v1::WatchRequest request;
  request.set_id(id);
  auto reader = stub.Watch(&context, request);
  Watched seen;
  v1::JobEvent event;
  while (reader->Read(&event)) {
    const double now = std::chrono::duration<double>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    seen.max_delay_seconds =
        std::max(seen.max_delay_seconds, now - SinceEpoch(event.time()));
    ++seen.events;
    seen.last = event;
  }
  EXPECT_TRUE(reader->Finish().ok());
  return seen;
}

v1::Job Get(v1::JobService::Stub& stub, const std::string& id) {
  grpc::ClientContext context;
  v1::GetJobRequest request;
  request.set_id(id);
  v1::Job job;
  EXPECT_TRUE(stub.Get(&context, request, &job).ok());
  return job;
}

v1::Job Submit(v1::JobService::Stub& stub, const v1::JobSpec& spec) {
  grpc::ClientContext context;
  v1::SubmitRequest request;
  *request.mutable_spec() = spec;
  v1::Job job;
  grpc::Status status = stub.Submit(&context, request, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

// Seconds a job ran, once it has ended.
double RunSeconds(v1::JobService::Stub& stub, const v1::JobSpec& spec) {
  const std::string id = Submit(stub, spec).id();
  WatchToEnd(stub, id);
  const v1::Job job = Get(stub, id);
  EXPECT_EQ(job.state(), v1::SUCCEEDED);
  return Seconds(job.start_time(), job.end_time());
}

// A gRPC Watch whose client never calls Read.
struct StuckGrpcWatcher {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader;
};

// An SSE client that sends its request and never reads, with a small
// receive buffer so the server's writes back up soon.
int StuckSseClient(int port, const std::string& id) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string request =
      "GET /v1/jobs/" + id + "/events HTTP/1.1\r\nHost: test\r\n\r\n";
  EXPECT_EQ(write(fd, request.data(), request.size()),
            static_cast<ssize_t>(request.size()));
  return fd;
}

// The unlabelled sample `name` from GET /metrics; -1 when absent.
double Metric(int http_port, const std::string& name) {
  const std::string text =
      "\n" + HttpRequest(http_port, "GET", "/metrics").body;
  const std::size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

// CPU seconds of the server's io threads (the --io_threads threads that run
// every RPC and HTTP coroutine). They are the first threads named "io"; the
// oneTBB workers, started later from an io thread, inherit the name.
double IoThreadCpuSeconds(pid_t pid, int io_threads) {
  std::vector<std::pair<long, double>> threads;  // tid, seconds
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& entry : std::filesystem::directory_iterator(
           "/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream in(entry.path() / "stat");
    std::string line;
    std::getline(in, line);
    const std::size_t open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    if (line.substr(open + 1, close - open - 1) != "io") continue;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    long ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i >= 14) ticks += std::stol(field);
    }
    threads.emplace_back(std::stol(entry.path().filename().string()),
                         static_cast<double>(ticks) / tick);
  }
  std::sort(threads.begin(), threads.end());
  double seconds = 0;
  for (int i = 0; i < io_threads && i < static_cast<int>(threads.size()); ++i) {
    seconds += threads[i].second;
  }
  return seconds;
}

// Samples the server every 100 ms while a job runs: resident memory, and the
// io threads' CPU time.
class Sampler {
 public:
  struct Sample {
    Clock::time_point time;
    long rss_kib;
    double io_cpu;
  };
  explicit Sampler(const ImpulsedProcess& server)
      : thread_([this, &server] {
          while (running_.load()) {
            samples_.push_back({Clock::now(), server.RssKiB(),
                                IoThreadCpuSeconds(server.pid(), kIoThreads)});
            std::this_thread::sleep_for(100ms);
          }
        }) {}
  // Stops sampling and returns the samples.
  std::vector<Sample> Stop() {
    running_ = false;
    thread_.join();
    return samples_;
  }
  // io CPU seconds from `from` after the first sample to the last sample.
  static double IoCpuAfter(const std::vector<Sample>& samples,
                           std::chrono::milliseconds from) {
    const Clock::time_point start = samples.front().time + from;
    for (const Sample& sample : samples) {
      if (sample.time >= start) return samples.back().io_cpu - sample.io_cpu;
    }
    return 0;
  }

  static constexpr int kIoThreads = 2;

 private:
  std::atomic<bool> running_{true};
  std::vector<Sample> samples_;
  std::thread thread_;
};

TEST(SlowWatcherTest, WatchersThatNeverReadCostBoundedMemoryAndSlowNobody) {
  const std::string dir = FaultTempDir("slow-watchers");
  ImpulsedProcess server(
      {.data_dir = dir,
       .args = {"--io_threads=" + std::to_string(Sampler::kIoThreads)}});
  ASSERT_TRUE(server.Start()) << server.Log();
  auto stub = v1::JobService::NewStub(OwnChannel(server.grpc_target()));

  // Baselines without stuck watchers: a pi job, and the emitter with one
  // reading watcher.
  const double pi_before = RunSeconds(*stub, Pi(1));
  const std::string e0 = Submit(*stub, Emitter()).id();
  Sampler e0_sampler(server);
  const Watched base = WatchToEnd(*stub, e0);
  const std::vector<Sampler::Sample> e0_samples = e0_sampler.Stop();
  ASSERT_EQ(Get(*stub, e0).error().code(), "DEADLINE_EXCEEDED");
  const long rss_before = server.RssKiB();

  // The same emitter again, now with 128 watchers that never read.
  const std::string e1 = Submit(*stub, Emitter()).id();
  Sampler e1_sampler(server);
  Watched reading;
  std::thread reader([&] {
    auto own = v1::JobService::NewStub(OwnChannel(server.grpc_target()));
    reading = WatchToEnd(*own, e1);
  });
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::JobService::Stub>> stubs;
  for (int i = 0; i < kChannels; ++i) {
    channels.push_back(OwnChannel(server.grpc_target(), /*small_window=*/true));
    stubs.push_back(v1::JobService::NewStub(channels.back()));
  }
  std::vector<std::unique_ptr<StuckGrpcWatcher>> stuck;
  for (int i = 0; i < kStuckGrpc; ++i) {
    auto watcher = std::make_unique<StuckGrpcWatcher>();
    v1::WatchRequest request;
    request.set_id(e1);
    watcher->reader = stubs[i % kChannels]->Watch(&watcher->context, request);
    stuck.push_back(std::move(watcher));
  }
  std::vector<int> sse;
  for (int i = 0; i < kStuckSse; ++i) {
    sse.push_back(StuckSseClient(server.http_port(), e1));
  }
  reader.join();
  const std::vector<Sampler::Sample> samples = e1_sampler.Stop();
  // The gRPC ones are blocked in a write (their windows are full); the SSE
  // ones may have had all their events taken by the kernel's socket buffers.
  EXPECT_GE(Metric(server.http_port(), "impulse_active_watchers"), kStuckGrpc)
      << "the stuck watchers should still be attached";

  // The reading watcher got every event about as soon as without them.
  EXPECT_EQ(reading.last.state(), v1::FAILED);
  EXPECT_EQ(reading.last.error().code(), "DEADLINE_EXCEEDED");
  EXPECT_GE(reading.events, 10);
  // (Blocked behind a stuck stream it would wait for the whole 6 s job.)
  EXPECT_LT(reading.max_delay_seconds,
            std::max(3.0, 4 * base.max_delay_seconds))
      << "baseline " << base.max_delay_seconds << " s";
  // Once their buffers are full (give them 3 of the 6 s), the stuck streams
  // cost the io threads next to nothing: about what one reading watcher costs.
  const double io_base = Sampler::IoCpuAfter(e0_samples, 3s);
  const double io_stuck = Sampler::IoCpuAfter(samples, 3s);
  // (The SSE sockets' kernel buffers may still take ~4 MB each.)
  EXPECT_LT(io_stuck, io_base + 0.45);
  // Memory: bounded, and level once the stuck streams have backed up (the
  // early samples include their buffers filling).
  ASSERT_GE(samples.size(), 30u);
  long peak = 0;
  for (const Sampler::Sample& sample : samples) {
    peak = std::max(peak, sample.rss_kib);
  }
  const long two_thirds = samples[samples.size() * 2 / 3].rss_kib;
  const long end = samples.back().rss_kib;
  std::printf(
      "server RSS KiB: before %ld, peak %ld, at 2/3 %ld, end %ld\n"
      "reading watcher: %d events (baseline %d), max delay %.3f s (baseline "
      "%.3f s)\n"
      "io threads, last 3 s of the job: %.3f CPU s (baseline %.3f)\n",
      rss_before, peak, two_thirds, end, reading.events, base.events,
      reading.max_delay_seconds, base.max_delay_seconds, io_stuck, io_base);
  EXPECT_LT(peak - rss_before, 128 * 1024);
  EXPECT_LT(end - two_thirds, 12 * 1024);

  // The next job, with the stuck watchers still there, runs in its time.
  const double pi_after = RunSeconds(*stub, Pi(2));
  std::printf("pi job: %.3f s before, %.3f s with stuck watchers\n", pi_before,
              pi_after);
  EXPECT_LT(pi_after, 4 * pi_before + 1.0);

  // The stuck clients go: every watcher coroutine ends.
  for (auto& watcher : stuck) {
    watcher->context.TryCancel();
    watcher->reader->Finish();
  }
  for (int fd : sse) close(fd);
  const auto until = Clock::now() + 10s;
  while (Metric(server.http_port(), "impulse_active_watchers") != 0 &&
         Clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(Metric(server.http_port(), "impulse_active_watchers"), 0);
  EXPECT_EQ(server.Terminate(), 0) << server.Log();
}

}  // namespace
}  // namespace impulse::testing
