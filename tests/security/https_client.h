// A small HTTPS/1.1 client for the TLS tests, on Beast's ssl_stream: one
// keep-alive connection whose calls block the test until the exchange ends.
// Unlike tests/rest/http_client.h it reports failures instead of failing
// the test, because refused connections are what several tests expect.
// Every step has a timeout (beast::tcp_stream underneath).
#pragma once

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/rest/http_client.h"

namespace impulse::testing {

namespace ssl = boost::asio::ssl;

// A client TLS context that trusts `ca_file` and, when given, presents the
// client certificate `cert_file` with `key_file`.
inline std::shared_ptr<ssl::context> ClientTlsContext(
    const std::string& ca_file, const std::string& cert_file = "",
    const std::string& key_file = "") {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->load_verify_file(ca_file);
  context->set_verify_mode(ssl::verify_peer);
  if (!cert_file.empty()) {
    context->use_certificate_chain_file(cert_file);
    context->use_private_key_file(key_file, ssl::context::pem);
  }
  return context;
}

class HttpsConnection {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Connects to 127.0.0.1:port and does the handshake, checking that the
  // server's certificate names 127.0.0.1; connected() says whether it
  // worked and error() why not.
  HttpsConnection(int port, std::shared_ptr<ssl::context> context,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20))
      : context_(std::move(context)),
        timeout_(timeout),
        stream_(io_, *context_) {
    stream_.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    error_ = Run(ConnectAsync(port));
  }

  bool connected() const { return connected_; }
  // Why the last step failed (connect, handshake or exchange).
  boost::system::error_code error() const { return error_; }

  // One request and its whole response; nullopt when it failed.
  std::optional<HttpReply> Send(http::verb method, std::string target,
                                std::string body = "", Headers headers = {}) {
    if (!connected_) return std::nullopt;
    return Run(SendAsync(method, std::move(target), std::move(body),
                         std::move(headers)));
  }
  std::optional<HttpReply> Get(std::string target, Headers headers = {}) {
    return Send(http::verb::get, std::move(target), "", std::move(headers));
  }
  std::optional<HttpReply> Post(std::string target, std::string body) {
    return Send(http::verb::post, std::move(target), std::move(body));
  }

  // A request answered by an event stream, read until the response ends or
  // `stop(reply)` is true; nullopt when it failed.
  std::optional<SseReply> Events(
      http::verb method, std::string target, std::string body = "",
      std::function<bool(const SseReply&)> stop = nullptr) {
    if (!connected_) return std::nullopt;
    return Run(EventsAsync(method, std::move(target), std::move(body),
                           std::move(stop)));
  }

  // Reads until the server ends the connection (or the timeout); returns
  // how the read ended: eof after the server's TLS close_notify,
  // stream_truncated when the TCP connection closed without one.
  boost::system::error_code ReadToEnd() { return Run(ReadToEndAsync()); }

 private:
  template <typename T>
  T Run(asio::awaitable<T> op) {
    std::future<T> result =
        asio::co_spawn(io_, std::move(op), asio::use_future);
    io_.restart();
    io_.run();
    return result.get();
  }

  asio::awaitable<boost::system::error_code> ConnectAsync(int port) {
    constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"),
                                           static_cast<unsigned short>(port));
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    boost::system::error_code ec;
    std::tie(ec) = co_await beast::get_lowest_layer(stream_).async_connect(
        endpoint, kNoThrow);
    if (ec) co_return ec;
    std::tie(ec) =
        co_await stream_.async_handshake(ssl::stream_base::client, kNoThrow);
    connected_ = !ec;
    co_return ec;
  }

  asio::awaitable<std::optional<HttpReply>> SendAsync(http::verb method,
                                                      std::string target,
                                                      std::string body,
                                                      Headers headers) {
    constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    for (auto& [name, value] : headers) request.set(name, value);
    if (!body.empty() || method == http::verb::post) {
      request.body() = std::move(body);
      request.prepare_payload();
    }
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    boost::system::error_code ec;
    std::tie(ec, std::ignore) =
        co_await http::async_write(stream_, request, kNoThrow);
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    if (!ec) {
      std::tie(ec, std::ignore) =
          co_await http::async_read(stream_, buffer_, parser, kNoThrow);
    }
    error_ = ec;
    if (ec) co_return std::nullopt;
    HttpReply reply;
    reply.status = parser.get().result_int();
    reply.headers = parser.get().base();
    reply.keep_alive = parser.get().keep_alive();
    reply.body = std::move(parser.get().body());
    co_return reply;
  }

  asio::awaitable<std::optional<SseReply>> EventsAsync(
      http::verb method, std::string target, std::string body,
      std::function<bool(const SseReply&)> stop) {
    constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::accept, "text/event-stream");
    if (method == http::verb::post) {
      request.body() = std::move(body);
      request.prepare_payload();
    }
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    boost::system::error_code ec;
    std::tie(ec, std::ignore) =
        co_await http::async_write(stream_, request, kNoThrow);
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    if (!ec) {
      std::tie(ec, std::ignore) =
          co_await http::async_read_header(stream_, buffer_, parser, kNoThrow);
    }
    SseReply reply;
    while (!ec) {
      reply.status = parser.get().result_int();
      reply.headers = parser.get().base();
      reply.complete = parser.is_done();
      reply.body = parser.get().body();
      reply.events = ParseSse(reply.body, &reply.heartbeats);
      if (reply.complete || (stop && stop(reply))) break;
      beast::get_lowest_layer(stream_).expires_after(timeout_);
      std::tie(ec, std::ignore) =
          co_await http::async_read_some(stream_, buffer_, parser, kNoThrow);
    }
    error_ = ec;
    if (ec) co_return std::nullopt;
    co_return reply;
  }

  asio::awaitable<boost::system::error_code> ReadToEndAsync() {
    constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    std::array<char, 4096> chunk;
    boost::system::error_code ec;
    while (!ec) {
      std::tie(ec, std::ignore) =
          co_await stream_.async_read_some(asio::buffer(chunk), kNoThrow);
    }
    co_return ec;
  }

  std::shared_ptr<ssl::context> context_;
  const std::chrono::milliseconds timeout_;
  asio::io_context io_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
  boost::system::error_code error_;
};

}  // namespace impulse::testing
