// Sends a job's events as Server-Sent Events (text/event-stream) on an open
// connection, with the semantics of the gRPC Watch: every event after
// `after_seq`, ending after the terminal event. Each event is
//   id: <seq>\nevent: <state_changed|progress>\ndata: <JobEvent JSON>\n\n
// and ": keep-alive" comments go out while the job is quiet. A client that
// disconnects is noticed at once (a read runs beside the writes), so no
// coroutine stays parked on the job's event log for a client that left.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <string>
#include <string_view>

#include "impulse/v1/jobs.pb.h"
#include "server/rest/http_metrics.h"
#include "server/rest/http_options.h"
#include "server/rest/http_stream.h"
#include "server/rest/http_types.h"
#include "server/rest/reply.h"
#include "server/rest/sse_text_cache.h"

namespace impulse::rest {

inline constexpr std::string_view kSseHeartbeat = ": keep-alive\n\n";

// One event in SSE framing (the JSON has no newlines).
std::string FormatSseEvent(const v1::JobEvent& event);

// Writes the 200 response head and then the events (their text from
// `texts`, shared by all streams). Must run on the connection's strand. Bytes
// the client sends meanwhile (a pipelined request) are kept in `buffer`.
// Returns true when the terminal event went out and the response ended
// cleanly, so the connection may serve another request. (Over TLS the read
// beside the writes is fine: an SSL stream allows one read and one write in
// flight at a time.)
template <typename Stream>
boost::asio::awaitable<bool> ServeEventStream(
    Stream& stream, boost::beast::flat_buffer& buffer, const Request& request,
    EventStreamReply reply, const HttpOptions& options, HttpMetrics& metrics,
    SseTextCache& texts);

extern template boost::asio::awaitable<bool> ServeEventStream(
    PlainStream&, boost::beast::flat_buffer&, const Request&, EventStreamReply,
    const HttpOptions&, HttpMetrics&, SseTextCache&);
extern template boost::asio::awaitable<bool> ServeEventStream(
    TlsStream&, boost::beast::flat_buffer&, const Request&, EventStreamReply,
    const HttpOptions&, HttpMetrics&, SseTextCache&);

}  // namespace impulse::rest
