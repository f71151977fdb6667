// Options of the service load generator (//bench:load) and the checks that
// keep it bounded: loopback targets only, capped time, count and clients.
#pragma once

#include <cstdint>
#include <string>

#include "impulse/v1/jobs.pb.h"

namespace impulse::load {

// Hard caps, whatever the flags say.
inline constexpr double kMaxDurationSeconds = 600;
inline constexpr double kMaxWarmupSeconds = 60;
inline constexpr double kMaxDrainSeconds = 60;
inline constexpr std::uint64_t kMaxJobs = 10'000'000;
inline constexpr int kMaxGrpcClients = 10'000;
inline constexpr int kMaxWatchers = 20'000;
inline constexpr std::uint64_t kMaxBurstJobs = 1'000'000;
inline constexpr int kMaxRestClients = 512;  // one thread each
inline constexpr int kMaxChannels = 64;
inline constexpr int kMaxThreads = 16;

enum class Protocol { kGrpc, kRest };

// What one client does per job.
enum class Mode {
  kRun,          // Run: submit and stream the events to the terminal one
  kExecute,      // Execute: submit, one answer with the finished job
  kSubmitWatch,  // Submit (unary), then Watch to the terminal event
  kSubmit,       // Submit only: the cost of accepting a job
  kWatch,        // rounds: one Submit, then every client Watches that job
  kBurst,        // watchers held open while a burst of jobs is submitted
};

// --mode=burst (bench/load/burst.h): the issue #6 scenario.
struct BurstOptions {
  int watchers = 5000;                        // concurrent Watch streams
  int watch_jobs = 50;                        // anchor jobs they watch
  std::uint64_t watch_samples = 200'000'000;  // pi samples of an anchor
  int watch_priority = -1;                    // below the burst's
  int hold_jobs = 2;  // slot holders, cancelled once the watchers are open
  std::uint64_t burst_jobs = 20'000;
  double finish_timeout_s = 120;  // for every job and stream to end
  double release_wait_s = 0;      // wait for retention to empty List
  double settle_s = 2;            // then wait this long before sampling
  double memory_tolerance_mib = 16;
  double memory_tolerance_fraction = 0.10;
};

struct LoadOptions {
  Protocol protocol = Protocol::kGrpc;
  std::string target = "127.0.0.1:50051";      // gRPC
  std::string http_target = "127.0.0.1:8080";  // REST
  Mode mode = Mode::kRun;
  std::string workload = "tiny";  // tiny, medium, book, or spec
  std::string spec_json;          // --spec: protobuf JSON of a JobSpec
  int clients = 8;
  double duration_s = 5;
  std::uint64_t jobs = 0;  // 0: as many as fit in duration_s
  double warmup_s = 0;
  double drain_s = 10;
  double rpc_timeout_s = 60;
  int channels = 0;  // 0: min(clients, 4)
  int threads = 1;
  std::uint64_t seed = 1;
  bool same_seed = false;
  bool allow_cache = false;
  int server_pid = 0;  // 0: found by the target's listening port
  bool json = false;
  BurstOptions burst;
};

// The JobSpec of a named workload ("tiny", "medium", "book") or of
// `spec_json`; an error message (empty on success) names the bad flag.
std::string BuildBaseSpec(const LoadOptions& options, v1::JobSpec* spec);

// The spec of the job numbered `index`: a seed of its own (unless
// same_seed) and no_cache (unless allow_cache), so every job really runs.
void SpecForJob(const LoadOptions& options, std::uint64_t index,
                v1::JobSpec* spec);

// Checks ranges and combinations; returns an error message or "".
std::string Validate(const LoadOptions& options);

// HOST:PORT, [V6]:PORT, ipv4:HOST:PORT, ipv6:[V6]:PORT or unix:PATH. True
// when the host is a loopback name or address (localhost, 127.0.0.0/8, ::1)
// or a unix socket; `port` is 0 for unix sockets.
bool IsLoopbackTarget(const std::string& target, int* port);

const char* ModeName(Mode mode);
const char* ProtocolName(Protocol protocol);

}  // namespace impulse::load
