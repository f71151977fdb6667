#include "server/rest/http_session.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <optional>
#include <variant>

#include "server/rest/dataset_upload.h"
#include "server/rest/json_errors.h"
#include "server/rest/metrics_stream.h"
#include "server/rest/sse_stream.h"

namespace impulse::rest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
using std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kReadSize = 4096;
// After rejecting a request, how long unread input is drained before the
// close (so the client sees the answer rather than a reset).
constexpr std::chrono::seconds kLingerTime{2};

bool IsHttpParseError(const boost::system::error_code& ec) {
  return ec.category() ==
         http::make_error_code(http::error::bad_method).category();
}

// The answer to a request that could not be read, or none when the
// connection just ends (client gone, timeout, shutdown).
std::optional<Response> RejectionFor(const boost::system::error_code& ec,
                                     const HttpOptions& options) {
  if (ec == http::error::body_limit) {
    return HttpErrorResponse(
        http::status::payload_too_large, "PAYLOAD_TOO_LARGE",
        "request body is larger than the limit of " +
            std::to_string(options.max_body_bytes) + " bytes");
  }
  if (ec == http::error::header_limit) {
    return HttpErrorResponse(
        http::status::request_header_fields_too_large, "HEADERS_TOO_LARGE",
        "request line and headers are larger than the limit of " +
            std::to_string(options.max_header_bytes) + " bytes");
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
    return std::nullopt;  // the client closed
  }
  if (IsHttpParseError(ec)) {
    return HttpErrorResponse(http::status::bad_request, "BAD_REQUEST",
                             "malformed HTTP request: " + ec.message());
  }
  return std::nullopt;  // timeout, reset, shutdown
}

// Shuts down sending, then reads and drops what the client still sends for a
// short while, so the answer is read before the connection closes.
awaitable<void> LingeringClose(beast::tcp_stream& stream) {
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream.expires_after(kLingerTime);
  std::array<char, kReadSize> sink;
  boost::system::error_code ec;
  while (!ec) {
    std::tie(ec, std::ignore) =
        co_await stream.async_read_some(asio::buffer(sink), kNoThrow);
  }
  stream.close();
}

awaitable<bool> WriteResponse(beast::tcp_stream& stream, Response& res,
                              bool head_only, const HttpOptions& options) {
  res.prepare_payload();
  // A 204 has no body and, per RFC 9110, no Content-Length either.
  if (res.result() == http::status::no_content) {
    res.erase(http::field::content_length);
  }
  stream.expires_after(options.write_timeout);
  boost::system::error_code ec;
  if (head_only) {
    http::response_serializer<http::string_body> serializer{res};
    std::tie(ec, std::ignore) =
        co_await http::async_write_header(stream, serializer, kNoThrow);
  } else {
    std::tie(ec, std::ignore) =
        co_await http::async_write(stream, res, kNoThrow);
  }
  co_return !ec;
}

// Sends the head with chunked encoding, then each piece as one chunk.
awaitable<bool> WriteChunked(beast::tcp_stream& stream, ChunkedReply& reply,
                             const Request& request,
                             const HttpOptions& options) {
  if (request.version() < 11) {
    // HTTP/1.0 has no chunked encoding: send the assembled body.
    Response res = std::move(reply.head);
    while (std::optional<std::string> piece = reply.next_piece()) {
      res.body() += *piece;
    }
    co_return co_await WriteResponse(stream, res, false, options);
  }
  http::response<http::empty_body> head{std::move(reply.head.base())};
  head.chunked(true);
  http::response_serializer<http::empty_body> serializer{head};
  stream.expires_after(options.write_timeout);
  boost::system::error_code ec;
  std::tie(ec, std::ignore) =
      co_await http::async_write_header(stream, serializer, kNoThrow);
  while (!ec) {
    std::optional<std::string> piece = reply.next_piece();
    if (!piece.has_value()) break;
    stream.expires_after(options.write_timeout);
    std::tie(ec, std::ignore) = co_await asio::async_write(
        stream, http::make_chunk(asio::buffer(*piece)), kNoThrow);
  }
  if (ec) co_return false;
  stream.expires_after(options.write_timeout);
  std::tie(ec, std::ignore) =
      co_await asio::async_write(stream, http::make_chunk_last(), kNoThrow);
  co_return !ec;
}

// Counts an answered request in the gateway's metrics and the server's.
void Observe(const SessionContext& context, std::string_view route, int status,
             steady_clock::duration latency) {
  context.metrics.RecordRequest(route, status, latency);
  if (context.options.on_request) {
    context.options.on_request(route, status,
                               std::chrono::duration<double>(latency).count());
  }
}

// Answers a request whose body was not (all) read and closes the connection.
awaitable<void> Reject(beast::tcp_stream& stream, Response& rejection,
                       const SessionContext& context,
                       std::string_view route = "other") {
  rejection.version(11);
  rejection.keep_alive(false);
  rejection.set(http::field::server, "impulsed");
  Observe(context, route, rejection.result_int(),
          steady_clock::duration::zero());
  const bool written =
      co_await WriteResponse(stream, rejection, false, context.options);
  if (written) co_await LingeringClose(stream);
}

Routed RouteSafely(const Router& router, const Request& request) {
  try {
    return router.Handle(request);
  } catch (const std::exception& e) {
    spdlog::error("http {} {} failed: {}", std::string(request.method_string()),
                  std::string(request.target()), e.what());
    return {
        ErrorResponse(Error{ErrorCode::kInternal,
                            std::string("unexpected error: ") + e.what(), ""}),
        "other"};
  }
}

int StatusOf(const Reply& reply) {
  if (const auto* res = std::get_if<Response>(&reply)) {
    return res->result_int();
  }
  if (const auto* chunked = std::get_if<ChunkedReply>(&reply)) {
    return chunked->head.result_int();
  }
  return 200;  // an event stream or the metrics stream
}

}  // namespace

awaitable<void> RunSession(beast::tcp_stream& stream,
                           const SessionContext& context) {
  const HttpOptions& options = context.options;
  beast::flat_buffer buffer;
  for (;;) {
    // Between requests: wait for the next one's first byte, at most the
    // keep-alive idle time.
    boost::system::error_code ec;
    std::size_t n = 0;
    if (buffer.size() == 0) {
      stream.expires_after(options.idle_timeout);
      std::tie(ec, n) =
          co_await stream.async_read_some(buffer.prepare(kReadSize), kNoThrow);
      if (ec) co_return;  // closed by the client, idle, or shutdown
      buffer.commit(n);
    }

    // The whole request (head and body) must arrive within read_timeout.
    stream.expires_after(options.read_timeout);
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    // Beast checks a Content-Length against this when the head arrives;
    // only uploads may be this large (the usual limit is applied below).
    parser.body_limit(context.router.max_request_bytes());
    std::tie(ec, std::ignore) =
        co_await http::async_read_header(stream, buffer, parser, kNoThrow);
    std::optional<Result<Router::Upload>> upload;
    if (!ec) upload = context.router.MatchUpload(parser.get());
    if (upload.has_value()) {
      const auto start = steady_clock::now();
      const bool keep = parser.get().keep_alive();
      const unsigned version = parser.get().version();
      Result<v1::DatasetHeader> header =
          upload->ok() ? Result<v1::DatasetHeader>(upload->value().header)
                       : Result<v1::DatasetHeader>(upload->error());
      const std::string tenant = upload->ok() ? upload->value().tenant : "";
      UploadOutcome outcome =
          co_await ReceiveDatasetUpload(stream, buffer, parser, header, tenant,
                                        context.router.manager(), options);
      if (!outcome.body_consumed) {
        co_await Reject(stream, outcome.response, context,
                        Router::kUploadRoute);
        co_return;
      }
      Observe(context, Router::kUploadRoute, outcome.response.result_int(),
              steady_clock::now() - start);
      outcome.response.version(version);
      outcome.response.keep_alive(keep);
      outcome.response.set(http::field::server, "impulsed");
      const bool written =
          co_await WriteResponse(stream, outcome.response, false, options);
      if (!written || !keep) co_return;
      continue;
    }
    if (!ec) {
      const boost::optional<std::uint64_t> length = parser.content_length();
      if (length.has_value() && *length > options.max_body_bytes) {
        ec = http::error::body_limit;
      } else {
        parser.body_limit(options.max_body_bytes);
      }
    }
    // (Beast itself refuses versions other than HTTP/1.0 and 1.1.)
    if (!ec && !parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        static constexpr std::string_view kContinue =
            "HTTP/1.1 100 Continue\r\n\r\n";
        std::tie(ec, std::ignore) = co_await asio::async_write(
            stream, asio::buffer(kContinue.data(), kContinue.size()), kNoThrow);
      }
      if (!ec) {
        std::tie(ec, std::ignore) =
            co_await http::async_read(stream, buffer, parser, kNoThrow);
      }
    }
    if (ec) {
      // (Keep this the only co_await of Reject: GCC 12 mis-compiled this
      // coroutine with a second one that kept a Response local across it.)
      std::optional<Response> rejection = RejectionFor(ec, options);
      if (rejection.has_value()) co_await Reject(stream, *rejection, context);
      co_return;
    }

    Request request = parser.release();
    const auto start = steady_clock::now();
    Routed routed = RouteSafely(context.router, request);
    const int status = StatusOf(routed.reply);
    const bool head_only = request.method() == http::verb::head;
    bool keep_alive = request.keep_alive();

    // (No co_await in conditions or on variables declared in them: GCC 12
    // mis-compiles some of those coroutine forms.)
    if (std::holds_alternative<EventStreamReply>(routed.reply)) {
      Observe(context, routed.route, status, steady_clock::now() - start);
      keep_alive = co_await ServeEventStream(
          stream, buffer, request,
          std::move(std::get<EventStreamReply>(routed.reply)), options,
          context.metrics, context.sse_texts);
      if (!keep_alive) co_return;
      continue;
    }
    if (std::holds_alternative<MetricsStreamReply>(routed.reply)) {
      Observe(context, routed.route, status, steady_clock::now() - start);
      co_await ServeMetricsStream(stream, request,
                                  std::get<MetricsStreamReply>(routed.reply),
                                  options, context.metrics);
      co_return;  // the stream ends with the connection
    }
    bool written = false;
    if (std::holds_alternative<Response>(routed.reply)) {
      Response& res = std::get<Response>(routed.reply);
      res.version(request.version());
      res.keep_alive(keep_alive);
      res.set(http::field::server, "impulsed");
      written = co_await WriteResponse(stream, res, head_only, options);
    } else {
      ChunkedReply& chunked = std::get<ChunkedReply>(routed.reply);
      chunked.head.version(request.version());
      chunked.head.keep_alive(keep_alive);
      chunked.head.set(http::field::server, "impulsed");
      written = co_await WriteChunked(stream, chunked, request, options);
    }
    if (!written) co_return;
    Observe(context, routed.route, status, steady_clock::now() - start);
    if (!keep_alive) {
      boost::system::error_code ignored;
      stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      co_return;
    }
  }
}

}  // namespace impulse::rest
