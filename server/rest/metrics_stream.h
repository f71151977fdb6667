// GET /v1/metrics/stream: the live system monitor (WatchMetrics) as
// Server-Sent Events. Each sample is
//   id: <seq>\nevent: sample\ndata: <MetricsSample JSON>\n\n
// every `interval`, with the stream's own moving average and alert (query
// parameters interval_ms, window, alert_threshold, alert_after_ms, as in
// WatchMetricsRequest). The stream has no end: it stops when the client
// leaves (the next write fails) or the server closes the connection.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/rest/http_metrics.h"
#include "server/rest/http_options.h"
#include "server/rest/http_stream.h"
#include "server/rest/http_types.h"
#include "server/rest/reply.h"
#include "server/rest/target.h"

namespace impulse::rest {

// The reply for the route: the feed options from the query, or a 400 naming
// the parameter.
Reply MetricsStreamRoute(const core::JobManager& manager, const Target& target);

// Writes the response head and then samples until a write fails. Must run on
// the connection's strand; the connection is not reused afterwards.
template <typename Stream>
boost::asio::awaitable<void> ServeMetricsStream(Stream& stream,
                                                const Request& request,
                                                MetricsStreamReply reply,
                                                const HttpOptions& options,
                                                HttpMetrics& metrics);

extern template boost::asio::awaitable<void> ServeMetricsStream(
    PlainStream&, const Request&, MetricsStreamReply, const HttpOptions&,
    HttpMetrics&);
extern template boost::asio::awaitable<void> ServeMetricsStream(
    TlsStream&, const Request&, MetricsStreamReply, const HttpOptions&,
    HttpMetrics&);

}  // namespace impulse::rest
