// One HTTP/1.1 connection as one coroutine: read a request (within the size
// and time limits), route it, send the reply, and loop while keep-alive
// holds. A malformed, oversized or slow request gets its 4xx (or the
// connection is closed) and never affects other connections.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/rest/http_metrics.h"
#include "server/rest/http_options.h"
#include "server/rest/http_stream.h"
#include "server/rest/router.h"
#include "server/rest/sse_text_cache.h"

namespace impulse::rest {

struct SessionContext {
  const HttpOptions& options;
  HttpMetrics& metrics;
  const Router& router;
  SseTextCache& sse_texts;
};

// Runs on the connection's strand (the stream's executor) until the client
// closes, a limit or timeout ends the connection, or the stream is closed
// from outside (shutdown). Errors end only this connection.
// Over TLS it first does the handshake (within options.tls_handshake_timeout;
// a client speaking plain HTTP gets a 400 saying so) and at the end sends
// close_notify, waiting a moment for the client's. A failed handshake ends
// only this connection, counted in the gateway's metrics.
template <typename Stream>
boost::asio::awaitable<void> RunSession(Stream& stream,
                                        const SessionContext& context);

extern template boost::asio::awaitable<void> RunSession(
    PlainStream& stream, const SessionContext& context);
extern template boost::asio::awaitable<void> RunSession(
    TlsStream& stream, const SessionContext& context);

}  // namespace impulse::rest
