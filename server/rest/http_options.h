// Settings of the REST gateway: limits that protect the server from large or
// slow clients, the SSE heartbeat, and hooks the server wires in (readiness,
// process metrics).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "server/edge/tls.h"
#include "server/edge/token_auth.h"

namespace impulse::rest {

struct HttpOptions {
  // Request line plus headers; larger gets 431.
  std::size_t max_header_bytes = 8 * 1024;
  // Request body; larger gets 413 (checked against Content-Length up front).
  std::size_t max_body_bytes = 16 << 20;
  // From the first byte of a request to its last; a slower client gets 408.
  std::chrono::milliseconds read_timeout = std::chrono::seconds(30);
  // Each response write (and each SSE write); a client that stops reading is
  // disconnected after this.
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  // A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // An SSE stream with no event for this long gets a ": keep-alive" comment.
  std::chrono::milliseconds sse_heartbeat = std::chrono::seconds(15);
  // An SSE stream sends at most one batch of events per interval; what
  // arrives meanwhile goes in the next batch (progress already coalesced by
  // the event log), so a fast job costs each watcher at most 1/interval
  // writes a second however many watchers there are.
  std::chrono::milliseconds sse_min_interval = std::chrono::milliseconds(50);
  // Job results are streamed as JSON built from chunks of about this size.
  std::size_t result_chunk_bytes = 1 << 20;

  // Set: serve HTTPS only (--tls_cert, --tls_key, --tls_client_ca); null:
  // plain HTTP.
  std::shared_ptr<const edge::TlsMaterial> tls;
  // From accepting a connection to the end of its TLS handshake; a slower
  // client is disconnected.
  std::chrono::milliseconds tls_handshake_timeout = std::chrono::seconds(10);

  // /readyz answers 200 while this returns true, else 503. Empty: ready
  // while the gateway is serving.
  std::function<bool()> ready;
  // Prometheus text for the rest of the process; /metrics serves it followed
  // by the gateway's own impulse_http_* families. Empty: only those.
  std::function<std::string()> metrics_text;
  // Called once per answered request: route template (e.g. "/v1/jobs/{id}"),
  // status and seconds from the request's last byte to the end of the answer
  // (to the start of the stream for SSE). When set, the process registry
  // counts requests (impulse_http_requests_total{route,status},
  // impulse_http_request_duration_seconds{route}) and the gateway leaves
  // those two families out of its own text.
  std::function<void(std::string_view route, int status, double seconds)>
      on_request;
  // Bearer tokens for every /v1/ route but the OpenAPI document (null = no
  // tokens); /healthz, /readyz, /metrics and the dashboard's files stay open
  // for load balancers, Prometheus and the browser.
  std::shared_ptr<const edge::TokenAuth> auth;
  // Called with +1 when an event stream opens and -1 when it closes (active
  // watchers).
  std::function<void(int delta)> on_stream;
};

}  // namespace impulse::rest
