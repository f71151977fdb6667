#include "server/rest/metrics_stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <string>

#include "server/rest/json_errors.h"
#include "server/rest/proto_json.h"

namespace impulse::rest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

Result<double> ParseDouble(const std::string& text, const std::string& field) {
  double value = 0;
  auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Error::InvalidArgument(
        field, "'" + text.substr(0, 64) + "' is not a number");
  }
  return value;
}

std::string FormatSample(const v1::MetricsSample& sample) {
  std::string out = "id: " + std::to_string(sample.seq());
  out += "\nevent: sample\ndata: ";
  out += ToJson(sample);
  out += "\n\n";
  return out;
}

}  // namespace

Reply MetricsStreamRoute(const core::JobManager& manager,
                         const Target& target) {
  v1::WatchMetricsRequest request;
  for (const auto& [name, value] : target.query) {
    if (name == "alert_threshold") {
      Result<double> threshold = ParseDouble(value, name);
      if (!threshold.ok()) return ErrorResponse(threshold.error());
      request.set_alert_threshold(threshold.value());
      continue;
    }
    if (name != "interval_ms" && name != "window" && name != "alert_after_ms") {
      return ErrorResponse(UnknownParameter(
          name, "interval_ms, window, alert_threshold and alert_after_ms"));
    }
    Result<std::uint32_t> n = ParseInt<std::uint32_t>(value, name);
    if (!n.ok()) return ErrorResponse(n.error());
    if (name == "interval_ms") {
      request.set_interval_ms(n.value());
    } else if (name == "window") {
      request.set_window(n.value());
    } else {
      request.set_alert_after_ms(n.value());
    }
  }
  Result<core::MetricsFeed::Options> options =
      core::MetricsFeed::FromRequest(request);
  if (!options.ok()) return ErrorResponse(options.error());
  return MetricsStreamReply{&manager, options.value()};
}

template <typename Stream>
awaitable<void> ServeMetricsStream(Stream& stream, const Request& request,
                                   MetricsStreamReply reply,
                                   const HttpOptions& options,
                                   HttpMetrics& metrics) {
  PlainStream& tcp = beast::get_lowest_layer(stream);
  const bool chunked = request.version() >= 11;
  http::response<http::empty_body> head{http::status::ok, request.version()};
  head.set(http::field::server, "impulsed");
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-cache");
  head.set("X-Accel-Buffering", "no");  // tell nginx not to buffer
  head.keep_alive(false);               // the stream ends with the connection
  head.chunked(chunked);
  http::response_serializer<http::empty_body> serializer{head};
  tcp.expires_after(options.write_timeout);
  boost::system::error_code ec;
  std::tie(ec, std::ignore) =
      co_await http::async_write_header(stream, serializer, kNoThrow);
  if (ec) co_return;

  metrics.StreamStarted();
  if (options.on_stream) options.on_stream(+1);
  core::MetricsFeed feed(reply.options, *reply.manager);
  asio::steady_timer timer(stream.get_executor());
  // A client that left is noticed by the write after it left (at most two
  // intervals later): the stream reads nothing from it.
  for (;;) {
    timer.expires_after(feed.interval());
    const std::string text = FormatSample(feed.Next());
    tcp.expires_after(options.write_timeout);
    if (chunked) {
      std::tie(ec, std::ignore) = co_await asio::async_write(
          stream, http::make_chunk(asio::buffer(text)), kNoThrow);
    } else {
      std::tie(ec, std::ignore) =
          co_await asio::async_write(stream, asio::buffer(text), kNoThrow);
    }
    if (ec) break;
    std::tie(ec) = co_await timer.async_wait(kNoThrow);
    if (ec) break;
  }
  metrics.StreamEnded();
  if (options.on_stream) options.on_stream(-1);
}

template awaitable<void> ServeMetricsStream(PlainStream&, const Request&,
                                            MetricsStreamReply,
                                            const HttpOptions&, HttpMetrics&);
template awaitable<void> ServeMetricsStream(TlsStream&, const Request&,
                                            MetricsStreamReply,
                                            const HttpOptions&, HttpMetrics&);

}  // namespace impulse::rest
