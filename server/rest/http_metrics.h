// The gateway's own Prometheus counters: requests by route and status,
// request latency, open connections and active SSE streams. Thread-safe.
// Request families use the same names and labels as the process registry
// (server/metrics), which takes them over when the server wires it in.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

namespace impulse::rest {

class HttpMetrics {
 public:
  // `route` is a route template such as "/v1/jobs/{id}" (bounded cardinality).
  void RecordRequest(std::string_view route, int status,
                     std::chrono::steady_clock::duration latency);
  void ConnectionOpened() { connections_total_++, connections_open_++; }
  void ConnectionClosed() { connections_open_--; }
  void StreamStarted() { sse_active_++; }
  void StreamEnded() { sse_active_--; }
  // A TLS connection that ended before its handshake completed (a client
  // that does not trust the certificate, has no client certificate under
  // mTLS, or speaks plain HTTP).
  void TlsHandshakeFailed() { tls_handshake_failures_++; }

  std::int64_t open_connections() const { return connections_open_.load(); }
  std::int64_t active_streams() const { return sse_active_.load(); }
  std::uint64_t tls_handshake_failures() const {
    return tls_handshake_failures_.load();
  }

  // The impulse_http_* families in Prometheus text format 0.0.4; the request
  // count and latency families only `with_requests`.
  std::string Render(bool with_requests = true) const;

 private:
  static constexpr std::array<double, 10> kBucketsSeconds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5};
  struct Latency {
    std::array<std::uint64_t, kBucketsSeconds.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };

  mutable std::mutex mu_;
  // (route, status) -> count
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Latency> latency_;  // by route
  std::atomic<std::uint64_t> connections_total_{0};
  std::atomic<std::int64_t> connections_open_{0};
  std::atomic<std::int64_t> sse_active_{0};
  std::atomic<std::uint64_t> tls_handshake_failures_{0};
};

}  // namespace impulse::rest
