#include "server/impulse_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <fstream>
#include <sstream>

#include "compute/gpu/gpu.h"
#include "proto/duration_text.h"
#include "server/core/heap_trim.h"

namespace impulse {

namespace {

// Finds the GPUs (none is fine: CPU only) and sizes the GPU lane to match.
core::JobManagerOptions WithDevices(core::JobManagerOptions options,
                                    bool use_gpu) {
  if (!use_gpu) {
    spdlog::info(
        "gpu disabled by --use_gpu=false; GPU jobs are refused, AUTO runs on "
        "CPU");
    return options;
  }
  const std::vector<gpu::DeviceInfo> devices = gpu::DiscoverDevices();
  for (const gpu::DeviceInfo& d : devices) {
    spdlog::info(
        "gpu device={} name=\"{}\" memory_mib={} compute_capability={}.{} "
        "sms={}",
        d.index, d.name, d.total_memory_bytes >> 20, d.compute_capability_major,
        d.compute_capability_minor, d.multiprocessors);
  }
  if (devices.empty()) {
    spdlog::info("no usable GPU ({}); AUTO jobs run on the CPU",
                 gpu::NoDeviceReason());
    return options;
  }
  // Contexts and streams now, so the first GPU job does not pay for them
  // (about 0.1 s on an H200).
  const auto started = std::chrono::steady_clock::now();
  const Result<gpu::StreamPool*> pool = gpu::StreamPool::Default();
  if (!pool.ok()) {
    spdlog::warn("gpu stream pool failed ({}); AUTO jobs run on the CPU",
                 pool.error().ToString());
    return options;
  }
  spdlog::info("gpu stream pool ready: {} streams in {:.0f} ms",
               pool.value()->total_streams(),
               std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now() - started)
                   .count());
  options.gpu_available = true;
  options.scheduler.max_running_gpu =
      static_cast<std::size_t>(pool.value()->total_streams());
  return options;
}

}  // namespace

ImpulseServer::ImpulseServer(ServerOptions options)
    : options_(std::move(options)) {
  core::JobManagerOptions manager_options =
      WithDevices(options_.manager, options_.use_gpu);
  manager_options.metrics = &metrics_;
  manager_ = std::make_unique<core::JobManager>(std::move(manager_options));
  // Gauges that are cheaper to read at scrape time than to keep current.
  registry_.AddScrapeHook([this] {
    if (manager_ == nullptr) return;
    metrics_.queue_depth.Set(static_cast<double>(manager_->queued()));
    metrics_.jobs_running.Set(static_cast<double>(manager_->running()));
    metrics_.cpu_pool_utilization.Set(manager_->cpu_utilization());
    metrics_.gpu_streams_busy.Set(static_cast<double>(manager_->running_gpu()));
  });
}

ImpulseServer::~ImpulseServer() { Shutdown(std::chrono::milliseconds(0)); }

namespace {

// The host part of HOST:PORT ("[::1]:80" -> "[::1]").
std::string_view HostOf(std::string_view listen) {
  const std::size_t colon = listen.rfind(':');
  return colon == std::string_view::npos ? listen : listen.substr(0, colon);
}

// Where other replicas reach this one: the listen host, or the hostname
// when the server listens on every address.
std::string DefaultAdvertise(const std::string& listen, int port) {
  std::string host(HostOf(listen));
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
    char name[256] = {};
    host = gethostname(name, sizeof(name) - 1) == 0 ? name : "localhost";
  }
  return host + ":" + std::to_string(port);
}

// Without tokens anyone who can connect may use the server, so it listens
// beyond loopback only when told to (--insecure).
// Beyond loopback a client must prove who it is: a token, or (mutual TLS) a
// certificate signed by --tls_client_ca, which the handshake checks before
// any call. Plain TLS encrypts but lets anyone in, so it does not count.
Status CheckExposure(const ServerOptions& options) {
  if (options.auth != nullptr || options.insecure ||
      !options.tls.client_ca_file.empty()) {
    return {};
  }
  for (const auto& [listen, field] :
       {std::pair{options.grpc_listen, "grpc_listen"},
        std::pair{options.http_listen, "http_listen"}}) {
    if (listen.empty() || edge::IsLoopbackHost(HostOf(listen))) continue;
    return Error::InvalidArgument(
        field, "'" + listen +
                   "' is not a loopback address and no --auth_tokens are "
                   "set: anyone who can connect could use this server. "
                   "Give --auth_tokens=FILE, --tls_client_ca=FILE (mutual "
                   "TLS), or --insecure to allow it");
  }
  return {};
}

}  // namespace

Status ImpulseServer::Start() {
  if (Status status = CheckExposure(options_); !status.ok()) return status;
  // TLS first: a bad file stops the start before anything else happens.
  std::shared_ptr<const edge::TlsMaterial> tls;
  if (options_.tls.enabled()) {
    Result<edge::TlsMaterial> loaded = edge::LoadTls(options_.tls);
    if (!loaded.ok()) return loaded.error();
    tls = std::make_shared<const edge::TlsMaterial>(std::move(loaded.value()));
    spdlog::info("tls {}", tls->description);
  }
  if (Status status = manager_->Recover(); !status.ok()) return status;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  handlers_ = std::make_unique<grpc_bridge::JobServiceHandlers>(
      *manager_, io_.get_executor(), &metrics_);
  metrics_handlers_ = std::make_unique<grpc_bridge::MetricsHandlers>(
      *manager_, io_.get_executor(), &metrics_);
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  if (tls != nullptr) {
    grpc::SslServerCredentialsOptions ssl(
        tls->require_client_cert()
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    ssl.pem_root_certs = tls->client_ca_pem;
    ssl.pem_key_cert_pairs.push_back(
        {tls->private_key_pem, tls->cert_chain_pem});
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.grpc_listen, credentials, &grpc_port_);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  handlers_->Register(builder);
  metrics_handlers_->Register(builder);
  std::unique_ptr<grpc::ServerCompletionQueue> cq =
      builder.AddCompletionQueue();
  grpc_server_ = builder.BuildAndStart();
  // Owns the queue from here on, so a failed start below still shuts the
  // server down before the queue goes away.
  poller_ = std::make_unique<grpc_bridge::CompletionQueuePoller>(std::move(cq));
  if (grpc_server_ == nullptr || grpc_port_ == 0) {
    return Error{ErrorCode::kUnavailable,
                 "cannot listen for gRPC on '" + options_.grpc_listen +
                     "' (address in use, or not HOST:PORT?)",
                 "grpc_listen"};
  }
  if (manager_->clustered()) {
    std::string peer_ca;
    if (!options_.cluster_peer_ca.empty()) {
      std::ifstream in(options_.cluster_peer_ca, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      if (!in || text.str().empty()) {
        return Error{
            ErrorCode::kInvalidArgument,
            "cannot read --cluster_peer_ca=" + options_.cluster_peer_ca,
            "cluster_peer_ca"};
      }
      peer_ca = text.str();
    }
    const std::string advertise =
        options_.cluster_advertise.empty()
            ? DefaultAdvertise(options_.grpc_listen, grpc_port_)
            : options_.cluster_advertise;
    manager_->SetAdvertiseAddress(advertise);
    handlers_->ForwardResults(
        std::make_shared<grpc_bridge::ResultForwarder>(tls, peer_ca));
    spdlog::info(
        "cluster advertise={}: other replicas read this one's result "
        "files there",
        advertise);
  }
  if (!options_.http_listen.empty()) {
    // Same io_context: every HTTP session is a coroutine on the io threads.
    rest::HttpOptions http = options_.http;
    if (!http.metrics_text) {
      http.metrics_text = [this] { return registry_.RenderText(); };
    }
    if (!http.ready) {
      http.ready = [this] { return manager_->ready() && !stopping_.load(); };
    }
    // HTTP request counts and SSE watchers go into the process registry.
    if (!http.on_request) {
      http.on_request = [this](std::string_view route, int status,
                               double seconds) {
        metrics_.http_requests.WithLabels({route, std::to_string(status)})
            .Increment();
        metrics_.http_request_duration.WithLabels({route}).Observe(seconds);
      };
    }
    http.auth = options_.auth;
    if (!http.on_stream) {
      http.on_stream = [this](int delta) {
        metrics_.active_watchers.Increment(delta);
      };
    }
    http.tls = tls;
    http_ = std::make_unique<rest::HttpServer>(io_.get_executor(), *manager_,
                                               std::move(http));
    if (Status status = http_->Start(options_.http_listen); !status.ok()) {
      return status;
    }
    http_port_ = http_->port();
  }
  poller_->Start();

  work_.emplace(io_.get_executor());
  const int io_threads =
      options_.io_threads > 0
          ? options_.io_threads
          : std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 2,
                       4);
  io_threads_running_ = io_threads;
  for (int i = 0; i < io_threads; ++i) {
    io_threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "io");
      io_.run();
      std::lock_guard lock(io_mu_);
      if (--io_threads_running_ == 0) io_idle_cv_.notify_all();
    });
  }
  handlers_->RequireTokens(options_.auth);
  metrics_handlers_->RequireTokens(options_.auth);
  handlers_->Start(poller_->cq(), options_.listeners_per_method);
  metrics_handlers_->Start(poller_->cq(), 1);
  grpc_server_->GetHealthCheckService()->SetServingStatus(true);
  // Keep gRPC health in step with readiness (journal failures, drain).
  boost::asio::co_spawn(io_, FollowReadiness(), boost::asio::detached);
  if (manager_->retention_enabled()) {
    boost::asio::co_spawn(io_, SweepRetention(), boost::asio::detached);
  }
  if (options_.heap_trim_interval.count() > 0) {
    boost::asio::co_spawn(io_, TrimHeap(), boost::asio::detached);
  }
  started_ = true;
  // tls=on: TLS only; tls=mtls: also a client certificate is required.
  const char* tls_mode = tls == nullptr               ? "off"
                         : tls->require_client_cert() ? "mtls"
                                                      : "on";
  spdlog::info(
      "impulsed serving grpc={} port={} tls={} cpu_threads={} io_threads={} "
      "max_queued={} auth={} retention={} retention_max_jobs={}",
      options_.grpc_listen, grpc_port_, tls_mode, manager_->cpu_threads(),
      io_threads, options_.manager.scheduler.max_queued,
      options_.auth != nullptr
          ? "tokens(" + std::to_string(options_.auth->size()) + ")"
          : std::string(options_.insecure ? "none(insecure)" : "none"),
      options_.manager.retention.count() > 0
          ? FormatDuration(options_.manager.retention)
          : "none",
      options_.manager.retention_max_jobs);
  return {};
}

boost::asio::awaitable<void> ImpulseServer::FollowReadiness() {
  bool serving = true;
  while (!stopping_.load()) {
    health_timer_.expires_after(std::chrono::milliseconds(250));
    boost::system::error_code ec;
    co_await health_timer_.async_wait(
        boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    const bool ready = manager_->ready() && !stopping_.load();
    if (ready != serving) {
      serving = ready;
      grpc_server_->GetHealthCheckService()->SetServingStatus(ready);
      spdlog::warn("readiness changed: serving={}", ready);
    }
  }
}

boost::asio::awaitable<void> ImpulseServer::SweepRetention() {
  // A batch is one journal transaction plus a few unlinks: milliseconds.
  constexpr std::size_t kBatch = 256;
  while (!stopping_.load()) {
    sweep_timer_.expires_after(options_.retention_sweep_interval);
    boost::system::error_code ec;
    co_await sweep_timer_.async_wait(
        boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    while (!stopping_.load() && manager_->SweepExpired(kBatch) == kBatch) {
      // Let the other coroutines of this thread run between batches.
      co_await boost::asio::post(io_, boost::asio::use_awaitable);
    }
  }
}

boost::asio::awaitable<void> ImpulseServer::TrimHeap() {
  while (!stopping_.load()) {
    trim_timer_.expires_after(options_.heap_trim_interval);
    boost::system::error_code ec;
    co_await trim_timer_.async_wait(
        boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (stopping_.load()) break;
    const core::HeapTrim trim =
        core::TrimHeapIfWorthIt(options_.heap_trim_min_free_bytes);
    if (trim.trimmed) {
      constexpr double kMiB = 1024.0 * 1024.0;
      spdlog::info(
          "heap trimmed: in_use={:.1f}MiB free={:.1f}MiB resident_anon "
          "{:.1f}->{:.1f}MiB took={}us",
          trim.before.in_use_bytes / kMiB, trim.before.free_bytes / kMiB,
          trim.before.resident_anon / kMiB, trim.after.resident_anon / kMiB,
          trim.took.count());
    }
  }
}

void ImpulseServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  stopping_ = true;
  boost::asio::post(io_, [this] {
    health_timer_.cancel();
    sweep_timer_.cancel();
    trim_timer_.cancel();
  });
  if (grpc_server_ != nullptr) {
    grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  }
  if (manager_ != nullptr && started_) {
    // Drain: refuse new jobs, let running ones finish within `grace`; what is
    // left stays journaled and runs again after a restart.
    manager_->BeginDrain();
    const bool idle =
        manager_->WaitIdle(std::chrono::steady_clock::now() + grace);
    spdlog::info("drain {}: running={} queued={}",
                 idle ? "complete" : "timed out", manager_->running(),
                 manager_->queued());
    manager_->AnnounceShutdown();
  }
  // HTTP served /readyz (503) and refused jobs during the drain; now stop
  // accepting, give event streams 200 ms to send that last event, then close
  // every connection.
  if (http_ != nullptr) http_->Stop(std::chrono::milliseconds(200));
  if (grpc_server_ != nullptr) {
    handlers_->StopAccepting();
    metrics_handlers_->StopAccepting();
    // Ends the calls still open (watchers of unfinished jobs, which just got
    // a last event) shortly after; their done-notifications wake any watcher
    // parked on an event log, so each RPC coroutine finishes.
    grpc_server_->Shutdown(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(200));
  }
  if (poller_ != nullptr) poller_->ShutdownAndDrain();
  // Every call has ended, so a watcher parked on an event log sees its call
  // done once woken; let the io threads run out of work on their own.
  if (manager_ != nullptr) manager_->WakeAllWatchers();
  work_.reset();
  {
    std::unique_lock lock(io_mu_);
    if (!io_idle_cv_.wait_for(lock, std::chrono::seconds(5),
                              [this] { return io_threads_running_ == 0; })) {
      spdlog::warn("io threads still busy 5 s after shutdown; stopping them");
      io_.stop();
    }
  }
  for (std::thread& thread : io_threads_) thread.join();
  io_threads_.clear();
  manager_.reset();  // cancels and waits for running jobs
  if (started_) spdlog::info("impulsed stopped");
}

}  // namespace impulse
