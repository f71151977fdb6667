// A small HTTP/1.1 client for the REST tests, built on Beast: one keep-alive
// connection whose calls block the test until the exchange completes. Every
// step has a timeout (beast::tcp_stream), so a server bug fails the test
// instead of hanging it. Also parses Server-Sent Events.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace impulse::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct SseEvent {
  std::string id;
  std::string event;
  std::string data;
};

// Parses complete SSE messages (those ended by a blank line) from `text`.
// `heartbeats` counts comment lines.
inline std::vector<SseEvent> ParseSse(std::string_view text,
                                      int* heartbeats = nullptr) {
  std::vector<SseEvent> events;
  if (heartbeats != nullptr) *heartbeats = 0;
  for (;;) {
    const std::size_t end = text.find("\n\n");
    if (end == std::string_view::npos) break;
    std::string_view block = text.substr(0, end);
    text.remove_prefix(end + 2);
    SseEvent event;
    bool has_field = false;
    while (!block.empty()) {
      const std::size_t nl = block.find('\n');
      std::string_view line = block.substr(0, nl);
      block = nl == std::string_view::npos ? std::string_view()
                                           : block.substr(nl + 1);
      if (line.starts_with(":")) {
        if (heartbeats != nullptr) ++*heartbeats;
        continue;
      }
      const std::size_t colon = line.find(": ");
      if (colon == std::string_view::npos) continue;
      std::string_view name = line.substr(0, colon);
      std::string value(line.substr(colon + 2));
      has_field = true;
      if (name == "id") event.id = value;
      if (name == "event") event.event = value;
      if (name == "data") event.data = value;
    }
    if (has_field) events.push_back(std::move(event));
  }
  return events;
}

struct HttpReply {
  int status = 0;
  http::fields headers;
  std::string body;
  bool keep_alive = false;

  std::string Header(std::string_view name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : std::string(it->value());
  }
};

struct SseReply {
  int status = 0;
  http::fields headers;
  std::string body;       // the raw event stream received so far
  bool complete = false;  // the response ended (terminal event sent)
  std::vector<SseEvent> events;
  int heartbeats = 0;
};

class HttpConnection {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  explicit HttpConnection(
      int port, std::chrono::milliseconds timeout = std::chrono::seconds(30))
      : port_(port), timeout_(timeout), stream_(io_) {
    Run([this]() -> asio::awaitable<void> {
      stream_.expires_after(timeout_);
      co_await stream_.async_connect(
          asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                  static_cast<unsigned short>(port_)),
          asio::use_awaitable);
    }());
  }

  HttpReply Send(http::verb method, std::string target, std::string body = "",
                 Headers headers = {}) {
    return Run(SendAsync(method, std::move(target), std::move(body),
                         std::move(headers)));
  }
  HttpReply Get(std::string target, Headers headers = {}) {
    return Send(http::verb::get, std::move(target), "", std::move(headers));
  }
  HttpReply Post(std::string target, std::string body = "") {
    return Send(http::verb::post, std::move(target), std::move(body));
  }

  // Sends a GET for an event stream and reads until `stop(reply)` is true or
  // the response ends. The connection stays usable after a complete reply.
  SseReply Events(std::string target, Headers headers = {},
                  std::function<bool(const SseReply&)> stop = nullptr) {
    return Run(EventsAsync(http::verb::get, std::move(target), "",
                           std::move(headers), std::move(stop)));
  }
  // The same for a POST that answers with an event stream (/v1/jobs:run).
  SseReply PostEvents(std::string target, std::string body) {
    return Run(EventsAsync(http::verb::post, std::move(target), std::move(body),
                           {}, nullptr));
  }

  // Writes raw bytes (no framing) and returns what arrives until the server
  // closes the connection or `stop_after` bytes came (0 = until close).
  std::string SendRaw(std::string bytes, std::size_t stop_after = 0) {
    return Run(SendRawAsync(std::move(bytes), stop_after));
  }
  void WriteRaw(std::string bytes) {
    Run([this, bytes = std::move(bytes)]() -> asio::awaitable<void> {
      stream_.expires_after(timeout_);
      co_await asio::async_write(stream_, asio::buffer(bytes),
                                 asio::use_awaitable);
    }());
  }
  // Reads until the server closes; returns what came and whether it closed
  // within `wait`.
  std::pair<std::string, bool> ReadUntilClosed(std::chrono::milliseconds wait) {
    return Run(ReadUntilClosedAsync(wait));
  }

  void Close() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  int port() const { return port_; }

 private:
  template <typename T>
  T Run(asio::awaitable<T> op) {
    std::future<T> result =
        asio::co_spawn(io_, std::move(op), asio::use_future);
    io_.restart();
    io_.run();
    return result.get();
  }

  asio::awaitable<HttpReply> SendAsync(http::verb method, std::string target,
                                       std::string body, Headers headers) {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    for (auto& [name, value] : headers) request.set(name, value);
    if (!body.empty() || method == http::verb::post) {
      request.body() = std::move(body);
      request.prepare_payload();
    }
    stream_.expires_after(timeout_);
    co_await http::async_write(stream_, request, asio::use_awaitable);
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    if (method == http::verb::head) parser.skip(true);
    co_await http::async_read(stream_, buffer_, parser, asio::use_awaitable);
    HttpReply reply;
    reply.status = parser.get().result_int();
    reply.headers = parser.get().base();
    reply.keep_alive = parser.get().keep_alive();
    reply.body = std::move(parser.get().body());
    co_return reply;
  }

  asio::awaitable<SseReply> EventsAsync(
      http::verb method, std::string target, std::string body, Headers headers,
      std::function<bool(const SseReply&)> stop) {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.set(http::field::accept, "text/event-stream");
    for (auto& [name, value] : headers) request.set(name, value);
    if (method == http::verb::post) {
      request.body() = std::move(body);
      request.prepare_payload();
    }
    stream_.expires_after(timeout_);
    co_await http::async_write(stream_, request, asio::use_awaitable);
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    co_await http::async_read_header(stream_, buffer_, parser,
                                     asio::use_awaitable);
    SseReply reply;
    reply.status = parser.get().result_int();
    reply.headers = parser.get().base();
    for (;;) {
      reply.complete = parser.is_done();
      reply.body = parser.get().body();
      reply.events = ParseSse(reply.body, &reply.heartbeats);
      if (reply.complete || (stop && stop(reply))) break;
      stream_.expires_after(timeout_);
      co_await http::async_read_some(stream_, buffer_, parser,
                                     asio::use_awaitable);
    }
    co_return reply;
  }

  asio::awaitable<std::string> SendRawAsync(std::string bytes,
                                            std::size_t stop_after) {
    stream_.expires_after(timeout_);
    co_await asio::async_write(stream_, asio::buffer(bytes),
                               asio::use_awaitable);
    std::string out;
    std::array<char, 4096> chunk;
    boost::system::error_code ec;
    std::size_t n = 0;
    for (;;) {
      std::tie(ec, n) = co_await stream_.async_read_some(
          asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
      out.append(chunk.data(), n);
      if (ec || (stop_after > 0 && out.size() >= stop_after)) break;
    }
    co_return out;
  }

  asio::awaitable<std::pair<std::string, bool>> ReadUntilClosedAsync(
      std::chrono::milliseconds wait) {
    stream_.expires_after(wait);
    std::string out;
    std::array<char, 4096> chunk;
    boost::system::error_code ec;
    std::size_t n = 0;
    for (;;) {
      std::tie(ec, n) = co_await stream_.async_read_some(
          asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
      out.append(chunk.data(), n);
      if (ec == beast::error::timeout) co_return std::make_pair(out, false);
      if (ec) co_return std::make_pair(out, true);
    }
  }

  const int port_;
  const std::chrono::milliseconds timeout_;
  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

}  // namespace impulse::testing
