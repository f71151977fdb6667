// One HTTP/1.1 connection as one coroutine: read a request (within the size
// and time limits), route it, send the reply, and loop while keep-alive
// holds. A malformed, oversized or slow request gets its 4xx (or the
// connection is closed) and never affects other connections.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "server/rest/http_metrics.h"
#include "server/rest/http_options.h"
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
boost::asio::awaitable<void> RunSession(boost::beast::tcp_stream& stream,
                                        const SessionContext& context);

}  // namespace impulse::rest
