// Assembles one impulsed process: the job manager, the io_context threads that
// run every RPC coroutine, the gRPC server with its CompletionQueue bridge, the
// health service and reflection. Tests start it in-process on port 0.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "compute/common/status.h"
#include "server/core/job_manager.h"
#include "server/edge/tls.h"
#include "server/edge/token_auth.h"
#include "server/grpc/completion_queue_poller.h"
#include "server/grpc/job_service_handlers.h"
#include "server/grpc/metrics_handlers.h"
#include "server/metrics/registry.h"
#include "server/metrics/server_metrics.h"
#include "server/rest/http_options.h"
#include "server/rest/http_server.h"

namespace impulse {

struct ServerOptions {
  std::string grpc_listen = "127.0.0.1:50051";
  std::string data_dir = "./impulse-data";
  int io_threads = 0;  // 0 = min(4, cores)
  int listeners_per_method = 4;
  int max_message_bytes = 64 << 20;
  bool use_gpu = true;  // false: never touch the GPU, even when present
  // HOST:PORT for the REST gateway; "" = no HTTP; port 0 picks a free port.
  std::string http_listen;
  rest::HttpOptions http;  // limits, timeouts, /readyz and /metrics hooks
  // Bearer tokens -> tenants, checked on every gRPC and /v1/ REST call;
  // null = no tokens, and then only loopback addresses unless `insecure`.
  std::shared_ptr<const edge::TokenAuth> auth;
  bool insecure = false;
  // --tls_cert and --tls_key: gRPC and HTTP serve TLS only; --tls_client_ca:
  // clients must also present a certificate signed by that CA. All empty:
  // plaintext.
  edge::TlsFiles tls;
  // Cluster mode: the HOST:PORT other replicas reach this one's gRPC at ("":
  // the --grpc_listen host, or this machine's hostname when that is a
  // wildcard, and the bound port), and with TLS the PEM file of the CA that
  // signed the replicas' certificates ("": trust this replica's own chain).
  std::string cluster_advertise;
  std::string cluster_peer_ca;
  core::JobManagerOptions manager;
  // How often finished jobs past retention (manager.retention,
  // manager.retention_max_jobs) are swept, on the io_context.
  std::chrono::milliseconds retention_sweep_interval{1000};
  // How often the heap is checked and, when mostly free but still resident
  // (after a burst), trimmed (core/heap_trim.h); 0 = never.
  std::chrono::milliseconds heap_trim_interval{5000};
  std::size_t heap_trim_min_free_bytes = 16 << 20;
};

class ImpulseServer {
 public:
  explicit ImpulseServer(ServerOptions options);
  ~ImpulseServer();

  // Binds and starts serving; an error names the address that failed.
  Status Start();
  // The bound gRPC port (the chosen one when listening on port 0).
  int grpc_port() const { return grpc_port_; }
  // The bound HTTP port (0 when http_listen is empty).
  int http_port() const { return http_port_; }
  core::JobManager& manager() { return *manager_; }
  // The Prometheus text of /metrics.
  std::string MetricsText() const { return registry_.RenderText(); }

  // Graceful stop: refuses new jobs, lets running jobs finish for up to
  // `grace` (the rest stay journaled to run after a restart), ends open calls
  // with a last event, stops the threads.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  boost::asio::awaitable<void> FollowReadiness();
  // Removes finished jobs past retention every retention_sweep_interval, in
  // small batches with a yield between, so no io thread is held for long.
  boost::asio::awaitable<void> SweepRetention();
  // Every heap_trim_interval: gives free heap pages back to the system when
  // core::ShouldTrimHeap says so.
  boost::asio::awaitable<void> TrimHeap();

  const ServerOptions options_;
  // Declared first, destroyed last: parked coroutine frames released while
  // the manager shuts down still refer to this io_context.
  boost::asio::io_context io_;
  boost::asio::steady_timer health_timer_{io_};
  boost::asio::steady_timer sweep_timer_{io_};
  boost::asio::steady_timer trim_timer_{io_};
  // Prometheus metrics of this process (before the manager, which counts
  // into them).
  metrics::Registry registry_;
  metrics::ServerMetrics metrics_{registry_};
  std::atomic<bool> stopping_{false};
  std::optional<
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      work_;
  std::vector<std::thread> io_threads_;
  std::mutex io_mu_;
  std::condition_variable io_idle_cv_;
  int io_threads_running_ = 0;
  std::unique_ptr<core::JobManager> manager_;
  std::unique_ptr<grpc_bridge::JobServiceHandlers> handlers_;
  std::unique_ptr<grpc_bridge::MetricsHandlers> metrics_handlers_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<grpc_bridge::CompletionQueuePoller> poller_;
  std::unique_ptr<rest::HttpServer> http_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace impulse
