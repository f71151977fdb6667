#include "server/rest/http_metrics.h"

#include <fmt/format.h>

#include <iterator>

namespace impulse::rest {

void HttpMetrics::RecordRequest(std::string_view route, int status,
                                std::chrono::steady_clock::duration latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard lock(mu_);
  ++requests_[std::make_pair(std::string(route), status)];
  Latency& l = latency_[std::string(route)];
  for (std::size_t i = 0; i < kBucketsSeconds.size(); ++i) {
    if (seconds <= kBucketsSeconds[i]) ++l.buckets[i];
  }
  ++l.count;
  l.sum += seconds;
}

std::string HttpMetrics::Render(bool with_requests) const {
  std::string out;
  auto append = std::back_inserter(out);
  if (with_requests) {
    std::lock_guard lock(mu_);
    fmt::format_to(append,
                   "# HELP impulse_http_requests_total HTTP requests "
                   "completed, by route and status.\n"
                   "# TYPE impulse_http_requests_total counter\n");
    for (const auto& [key, count] : requests_) {
      fmt::format_to(
          append,
          "impulse_http_requests_total{{route=\"{}\",status=\"{}\"}} "
          "{}\n",
          key.first, key.second, count);
    }
    fmt::format_to(append,
                   "# HELP impulse_http_request_duration_seconds HTTP request "
                   "latency in seconds, by route.\n"
                   "# TYPE impulse_http_request_duration_seconds histogram\n");
    for (const auto& [route, l] : latency_) {
      for (std::size_t i = 0; i < kBucketsSeconds.size(); ++i) {
        fmt::format_to(append,
                       "impulse_http_request_duration_seconds_bucket{{route="
                       "\"{}\",le=\"{}\"}} {}\n",
                       route, kBucketsSeconds[i], l.buckets[i]);
      }
      fmt::format_to(append,
                     "impulse_http_request_duration_seconds_bucket{{route="
                     "\"{}\",le=\"+Inf\"}} {}\n"
                     "impulse_http_request_duration_seconds_sum{{route=\"{}\"}}"
                     " {}\n"
                     "impulse_http_request_duration_seconds_count{{route="
                     "\"{}\"}} {}\n",
                     route, l.count, route, l.sum, route, l.count);
    }
  }
  fmt::format_to(
      append,
      "# HELP impulse_http_connections_total HTTP connections accepted.\n"
      "# TYPE impulse_http_connections_total counter\n"
      "impulse_http_connections_total {}\n"
      "# HELP impulse_http_connections_open HTTP connections open now.\n"
      "# TYPE impulse_http_connections_open gauge\n"
      "impulse_http_connections_open {}\n"
      "# HELP impulse_http_sse_streams_active Server-Sent Event streams open "
      "now (job event watchers over REST).\n"
      "# TYPE impulse_http_sse_streams_active gauge\n"
      "impulse_http_sse_streams_active {}\n"
      "# HELP impulse_http_tls_handshake_failures_total HTTPS connections "
      "that ended before their TLS handshake completed.\n"
      "# TYPE impulse_http_tls_handshake_failures_total counter\n"
      "impulse_http_tls_handshake_failures_total {}\n",
      connections_total_.load(), connections_open_.load(), sse_active_.load(),
      tls_handshake_failures_.load());
  return out;
}

}  // namespace impulse::rest
