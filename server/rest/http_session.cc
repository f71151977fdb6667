#include "server/rest/http_session.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/detect_ssl.hpp>
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
// short while, so the answer is read before the connection closes. Over TLS
// the session's end does the same with close_notify (see CloseTls).
template <typename Stream>
awaitable<void> LingeringClose(Stream& stream) {
  if constexpr (!kIsTls<Stream>) {
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
  co_return;
}

template <typename Stream>
awaitable<bool> WriteResponse(Stream& stream, Response& res, bool head_only,
                              const HttpOptions& options) {
  res.prepare_payload();
  // A 204 has no body and, per RFC 9110, no Content-Length either.
  if (res.result() == http::status::no_content) {
    res.erase(http::field::content_length);
  }
  beast::get_lowest_layer(stream).expires_after(options.write_timeout);
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
template <typename Stream>
awaitable<bool> WriteChunked(Stream& stream, ChunkedReply& reply,
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
  beast::get_lowest_layer(stream).expires_after(options.write_timeout);
  boost::system::error_code ec;
  std::tie(ec, std::ignore) =
      co_await http::async_write_header(stream, serializer, kNoThrow);
  while (!ec) {
    std::optional<std::string> piece = reply.next_piece();
    if (!piece.has_value()) break;
    beast::get_lowest_layer(stream).expires_after(options.write_timeout);
    std::tie(ec, std::ignore) = co_await asio::async_write(
        stream, http::make_chunk(asio::buffer(*piece)), kNoThrow);
  }
  if (ec) co_return false;
  beast::get_lowest_layer(stream).expires_after(options.write_timeout);
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
template <typename Stream>
awaitable<void> Reject(Stream& stream, Response& rejection,
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

// A SubmitReply's answer. Submitted here, not in the router, so that the
// coroutine waits for the journal's commit while its io thread serves others.
awaitable<Reply> SubmitJob(core::JobManager& manager, SubmitReply submit) {
  try {
    core::SubmitAnswer answer = co_await core::AsyncSubmit(
        manager, submit.spec, submit.tenant, asio::use_awaitable);
    co_return AnswerSubmit(submit, std::move(answer));
  } catch (const std::exception& e) {
    spdlog::error("http submit failed: {}", e.what());
    co_return ErrorResponse(Error{ErrorCode::kInternal,
                                  std::string("unexpected error: ") + e.what(),
                                  ""});
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

// Over TLS, before the first request: the handshake, within
// tls_handshake_timeout. A client speaking plain HTTP to this port gets a
// 400 saying so rather than bytes it cannot read. False: the connection ends
// here (a failure is counted and logged at debug level only: it concerns
// one client).
awaitable<bool> Handshake(TlsStream& stream, beast::flat_buffer& buffer,
                          const SessionContext& context) {
  PlainStream& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(context.options.tls_handshake_timeout);
  boost::system::error_code ec;
  bool is_tls = false;
  std::tie(ec, is_tls) =
      co_await beast::async_detect_ssl(tcp, buffer, kNoThrow);
  if (ec == asio::error::eof && buffer.size() == 0) {
    co_return false;  // connected and left (a port probe): not a failure
  }
  boost::system::error_code peer_ec;
  const asio::ip::tcp::endpoint peer = tcp.socket().remote_endpoint(peer_ec);
  if (!ec && !is_tls) {
    context.metrics.TlsHandshakeFailed();
    spdlog::debug("https connection from {}:{} sent plain HTTP; answered 400",
                  peer.address().to_string(), peer.port());
    Response rejection =
        HttpErrorResponse(http::status::bad_request, "BAD_REQUEST",
                          "this port serves HTTPS only: connect with https://");
    co_await Reject(tcp, rejection, context);
    co_return false;
  }
  if (!ec) {
    std::size_t used = 0;
    std::tie(ec, used) = co_await stream.async_handshake(
        asio::ssl::stream_base::server, buffer.data(), kNoThrow);
    if (!ec) buffer.consume(used);
  }
  if (ec) {
    context.metrics.TlsHandshakeFailed();
    spdlog::debug("https handshake with {}:{} failed: {}",
                  peer.address().to_string(), peer.port(), ec.message());
    co_return false;
  }
  co_return true;
}

// Ends a TLS connection politely: close_notify, then up to kLingerTime for
// the client's. Unless that exchange completes, what the client still sends
// is read and dropped for the rest of that time (as LingeringClose does for
// plain HTTP), so it reads the whole answer before the close. Ends at once
// when the connection is already closed or broken.
awaitable<void> CloseTls(TlsStream& stream) {
  PlainStream& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(kLingerTime);
  boost::system::error_code ec;
  std::tie(ec) = co_await stream.async_shutdown(kNoThrow);
  if (ec) {
    boost::system::error_code ignored;
    tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    std::array<char, kReadSize> sink;
    ec = {};
    while (!ec) {
      std::tie(ec, std::ignore) =
          co_await tcp.async_read_some(asio::buffer(sink), kNoThrow);
    }
  }
  tcp.close();
}

// The requests of one connection, until it ends.
template <typename Stream>
awaitable<void> ServeRequests(Stream& stream, beast::flat_buffer& buffer,
                              const SessionContext& context) {
  const HttpOptions& options = context.options;
  PlainStream& tcp = beast::get_lowest_layer(stream);
  for (;;) {
    // Between requests: wait for the next one's first byte, at most the
    // keep-alive idle time.
    boost::system::error_code ec;
    std::size_t n = 0;
    if (buffer.size() == 0) {
      tcp.expires_after(options.idle_timeout);
      std::tie(ec, n) =
          co_await stream.async_read_some(buffer.prepare(kReadSize), kNoThrow);
      if (ec) co_return;  // closed by the client, idle, or shutdown
      buffer.commit(n);
    }

    // The whole request (head and body) must arrive within read_timeout.
    tcp.expires_after(options.read_timeout);
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
    if (std::holds_alternative<SubmitReply>(routed.reply)) {
      routed.reply =
          co_await SubmitJob(context.router.manager(),
                             std::move(std::get<SubmitReply>(routed.reply)));
    }
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
      // (Over TLS, RunSession's CloseTls ends the connection.)
      if constexpr (!kIsTls<Stream>) {
        boost::system::error_code ignored;
        tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      }
      co_return;
    }
  }
}

}  // namespace

template <typename Stream>
awaitable<void> RunSession(Stream& stream, const SessionContext& context) {
  beast::flat_buffer buffer;
  if constexpr (kIsTls<Stream>) {
    const bool secured = co_await Handshake(stream, buffer, context);
    if (!secured) co_return;
  }
  co_await ServeRequests(stream, buffer, context);
  if constexpr (kIsTls<Stream>) co_await CloseTls(stream);
}

template awaitable<void> RunSession(PlainStream& stream,
                                    const SessionContext& context);
template awaitable<void> RunSession(TlsStream& stream,
                                    const SessionContext& context);

}  // namespace impulse::rest
