// impulsed: the Impulse job server. See --help.
#include <absl/synchronization/mutex.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <thread>

#include "server/impulse_server.h"

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // gpr_mu) checks for lock-order cycles by default, which takes one global
  // lock per acquisition: a contended hot spot in every RPC. Off, as in a
  // release build of Abseil.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  impulse::ServerOptions options;
  auto& limits = options.manager.limits;
  std::string log_level = "info";
  bool journal = true;
  std::string journal_sync = "normal";
  int drain_ms = 5000;

  CLI::App app{
      "impulsed: runs simulation and analytics jobs (particles, pi) submitted "
      "over\n"
      "gRPC, on a oneTBB CPU pool, and streams their progress to watchers."};
  app.add_option(
         "--grpc_listen", options.grpc_listen,
         "HOST:PORT for the gRPC API; port 0 picks a free port (logged)")
      ->capture_default_str();
  options.http_listen = "127.0.0.1:8080";
  app.add_option("--http_listen", options.http_listen,
                 "HOST:PORT for the REST gateway (HTTP/1.1, SSE, /metrics); "
                 "port 0 picks a free port (logged); empty = no HTTP")
      ->capture_default_str();
  app.add_option("--http_max_body_bytes", options.http.max_body_bytes,
                 "largest HTTP request body (larger gets 413)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--data_dir", options.data_dir,
                 "directory for the journal and datasets")
      ->capture_default_str();
  app.add_option("--cpu_threads", options.manager.scheduler.cpu_threads,
                 "threads in the CPU pool; 0 = all cores")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max_running", options.manager.scheduler.max_running,
                 "jobs running at once; 0 = cpu_threads")
      ->capture_default_str();
  app.add_option("--max_queued", options.manager.scheduler.max_queued,
                 "queued jobs before Submit answers RESOURCE_EXHAUSTED")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--io_threads", options.io_threads,
                 "threads running RPC coroutines; 0 = min(4, cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--use_gpu", options.use_gpu,
                 "use CUDA devices when present (false: CPU only)")
      ->capture_default_str();
  app.add_option("--max_particles", limits.max_particles,
                 "largest particles job")
      ->capture_default_str();
  app.add_option("--max_pi_samples", limits.max_pi_samples, "largest pi job")
      ->capture_default_str();
  app.add_option("--max_particle_steps", limits.max_particle_steps,
                 "largest particles x steps of one job")
      ->capture_default_str();
  app.add_option("--max_dataset_bytes", options.manager.max_dataset_bytes,
                 "largest dataset one UploadDataset may store")
      ->capture_default_str();
  app.add_option("--max_distance_matrix_points",
                 limits.max_distance_matrix_points,
                 "most points of a distance_matrix job (N x N is stored)")
      ->capture_default_str();
  app.add_option("--result_cache_bytes", options.manager.result_cache_bytes,
                 "result cache budget (LRU); 0 = no cache")
      ->capture_default_str();
  app.add_option(
         "--journal", journal,
         "keep jobs in a SQLite journal under --data_dir (false: memory only, "
         "a restart loses them)")
      ->capture_default_str();
  app.add_option("--journal_sync", journal_sync,
                 "normal: survives a process crash; full: also a power failure "
                 "(slower)")
      ->capture_default_str()
      ->check(CLI::IsMember({"normal", "full"}));
  app.add_option("--drain_timeout_ms", drain_ms,
                 "on SIGTERM, how long open calls may take to finish")
      ->capture_default_str();
  app.add_option("--log_level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);

  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(log_level));

  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create --data_dir={}: {}", options.data_dir,
                  ec.message());
    return 2;
  }

  options.manager.storage_dir = options.data_dir;  // datasets/, results/
  if (journal) {
    options.manager.journal_path =
        (std::filesystem::path(options.data_dir) / "journal.sqlite").string();
    options.manager.journal_full_sync = journal_sync == "full";
  }

  // Block the stop signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  impulse::ImpulseServer server(options);
  if (impulse::Status status = server.Start(); !status.ok()) {
    spdlog::error("{}", status.error().ToString());
    return 2;
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("received {}; shutting down (drain {} ms)",
               strsignal(signal_number), drain_ms);
  server.Shutdown(std::chrono::milliseconds(drain_ms));
  return 0;
}
