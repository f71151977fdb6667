// impulsed: the Impulse job server. See --help.
#include <absl/synchronization/mutex.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <thread>

#include "proto/duration_text.h"
#include "server/cluster/redis_store.h"
#include "server/edge/token_auth.h"
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
  std::string auth_tokens;
  std::string retention = "24h";
  std::string cluster_redis;
  int cluster_lease_ms = 5000;
  options.manager.retention_max_jobs = 100'000;

  CLI::App app{
      "impulsed: runs simulation and analytics jobs (particles, pi) submitted "
      "over\n"
      "gRPC, on a oneTBB CPU pool, and streams their progress to watchers."};
  app.footer(
      "\nLifecycle: a job is journaled (--journal) before Submit answers; "
      "after "
      "a crash\nqueued and running jobs run again. If the journal fails (disk "
      "full, file size\nlimit), the server refuses new work (UNAVAILABLE, "
      "/readyz 503) until restarted.\nFinished jobs stay readable until "
      "deleted (Delete RPC, DELETE /v1/jobs/{id},\nimpulse rm) or removed by "
      "--retention / --retention_max_jobs. A job whose\nspec.timeout passes "
      "while it runs ends FAILED with DEADLINE_EXCEEDED.");
  app.add_option(
         "--grpc_listen", options.grpc_listen,
         "HOST:PORT for the gRPC API; port 0 picks a free port (logged)")
      ->capture_default_str();
  options.http_listen = "127.0.0.1:8080";
  app.add_option("--http_listen", options.http_listen,
                 "HOST:PORT for the REST gateway (HTTP/1.1, SSE, /metrics); "
                 "port 0 picks a free port (logged); empty = no HTTP")
      ->capture_default_str();
  CLI::Option_group* tls = app.add_option_group(
      "TLS",
      "With --tls_cert and --tls_key, gRPC and HTTP both serve TLS only (a "
      "plaintext client is refused; HTTP becomes HTTPS); without them both "
      "are plaintext. Files are PEM; the key must not be encrypted.");
  tls->add_option("--tls_cert", options.tls.cert_file,
                  "server certificate chain (PEM, leaf first); its "
                  "subjectAltName must name the address clients dial, e.g. "
                  "IP:127.0.0.1 or DNS:impulse.example")
      ->type_name("FILE");
  tls->add_option("--tls_key", options.tls.key_file,
                  "private key of --tls_cert (PEM, unencrypted)")
      ->type_name("FILE");
  tls->add_option("--tls_client_ca", options.tls.client_ca_file,
                  "mutual TLS: clients must present a certificate signed by "
                  "a CA in this PEM file (needs --tls_cert and --tls_key)")
      ->type_name("FILE");
  app.add_option("--http_max_body_bytes", options.http.max_body_bytes,
                 "largest HTTP request body (larger gets 413)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--auth_tokens", auth_tokens,
                 "file of 'TENANT TOKEN' lines ('#' comments): every gRPC "
                 "call and /v1/ REST request needs 'authorization: Bearer "
                 "TOKEN' and sees only its tenant's jobs, datasets and "
                 "indexes; without it the server listens on loopback only")
      ->check(CLI::ExistingFile);
  app.add_flag("--insecure", options.insecure,
               "allow listening beyond loopback without --auth_tokens "
               "(anyone who can connect may use the server)");
  app.add_option("--data_dir", options.data_dir,
                 "directory for the journal, datasets and large results")
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
  app.add_option("--tenant_max_queued",
                 options.manager.scheduler.max_queued_per_tenant,
                 "queued jobs per tenant (in cluster mode: in the whole "
                 "cluster); more get RESOURCE_EXHAUSTED (0 = no limit)")
      ->capture_default_str();
  app.add_option("--tenant_max_running",
                 options.manager.scheduler.max_running_per_tenant,
                 "running jobs per tenant; more wait while other tenants' "
                 "jobs start (0 = no limit). Between tenants the scheduler "
                 "shares fairly: at equal priority, the tenant running "
                 "fewer jobs goes first")
      ->capture_default_str();
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
  app.add_option(
         "--retention", retention,
         "finished jobs (SUCCEEDED, FAILED, CANCELLED) are removed, with "
         "their events, results, result files and journal rows, this long "
         "after they ended (e.g. 90m, 24h, 7d); 0 = kept until deleted")
      ->capture_default_str()
      ->type_name("DURATION")
      ->check([](const std::string& text) -> std::string {
        std::chrono::nanoseconds value;
        return impulse::ParseDuration(text, &value)
                   ? ""
                   : "must be a duration like 90s, 30m, 24h or 7d, or 0";
      });
  app.add_option("--retention_max_jobs", options.manager.retention_max_jobs,
                 "keep at most this many finished jobs, removing the oldest "
                 "finished first; 0 = no limit")
      ->capture_default_str();
  app.add_option(
         "--cluster_redis", cluster_redis,
         "cluster mode: redis://HOST:PORT shared by several replicas (queue, "
         "jobs, events, results and leases live there, so any replica "
         "answers for any job); replaces --journal. Without it: one process")
      ->type_name("URL");
  app.add_option("--cluster_advertise", options.cluster_advertise,
                 "cluster mode: HOST:PORT where the other replicas reach this "
                 "one's gRPC (they read large result files from the replica "
                 "that keeps them); default: the --grpc_listen host, or this "
                 "machine's hostname when listening on 0.0.0.0, and the port")
      ->type_name("HOST:PORT");
  app.add_option("--cluster_peer_ca", options.cluster_peer_ca,
                 "cluster mode with TLS: PEM file of the CA that signed the "
                 "replicas' certificates (default: trust this replica's own "
                 "--tls_cert chain)")
      ->type_name("FILE");
  app.add_option("--cluster_lease_ms", cluster_lease_ms,
                 "cluster mode: a replica that stops renewing its jobs' "
                 "leases (it died) loses them to another replica after this "
                 "long")
      ->capture_default_str()
      ->check(CLI::Range(200, 600'000));
  int heap_trim_ms = static_cast<int>(options.heap_trim_interval.count());
  app.add_option("--heap_trim_ms", heap_trim_ms,
                 "how often to check whether freed heap memory (after a "
                 "burst of jobs or streams) should be given back to the "
                 "system with malloc_trim; 0 = never")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--drain_timeout_ms", drain_ms,
                 "on SIGTERM, how long open calls may take to finish")
      ->capture_default_str();
  app.add_option("--log_level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);

  options.heap_trim_interval = std::chrono::milliseconds(heap_trim_ms);
  std::chrono::nanoseconds retention_value{};
  impulse::ParseDuration(retention, &retention_value);
  options.manager.retention =
      std::chrono::duration_cast<std::chrono::milliseconds>(retention_value);

  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  // A file size limit (ulimit -f) then fails the write with EFBIG, which the
  // journal reports (and the server stops taking work), instead of killing
  // the process with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  spdlog::set_level(spdlog::level::from_str(log_level));

  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create --data_dir={}: {}", options.data_dir,
                  ec.message());
    return 2;
  }

  if (!auth_tokens.empty()) {
    auto auth = impulse::edge::TokenAuth::Load(auth_tokens);
    if (!auth.ok()) {
      spdlog::error("--auth_tokens: {}", auth.error().message);
      return 2;
    }
    options.auth = auth.value();
  }
  options.manager.storage_dir = options.data_dir;  // datasets/, results/
  if (!cluster_redis.empty()) {
    auto store = impulse::cluster::RedisStore::Open(
        {.url = cluster_redis,
         .lease = std::chrono::milliseconds(cluster_lease_ms)});
    if (!store.ok()) {
      spdlog::error("--{}", store.error().ToString());
      return 2;
    }
    options.manager.cluster = std::move(store.value());
  } else if (journal) {
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
