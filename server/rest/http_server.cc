#include "server/rest/http_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <unordered_map>

#include "server/rest/http_session.h"
#include "server/rest/http_stream.h"
#include "server/rest/router.h"

namespace impulse::rest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::awaitable;
using asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// One accepted connection, plain or TLS; Stop() closes it through `tcp()`.
struct Connection {
  virtual ~Connection() = default;
  // The TCP stream (the lowest layer); its executor is the connection's
  // strand.
  virtual beast::tcp_stream& tcp() = 0;
};

template <typename Stream>
struct ConnectionOf final : Connection {
  template <typename... Args>
  explicit ConnectionOf(Args&&... args) : stream(std::forward<Args>(args)...) {}
  beast::tcp_stream& tcp() override { return beast::get_lowest_layer(stream); }
  Stream stream;
};

// Splits "host:port" / "[v6]:port".
bool SplitHostPort(const std::string& listen, std::string* host,
                   std::string* port) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) return false;
  *host = listen.substr(0, colon);
  *port = listen.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return !host->empty();
}

}  // namespace

// Everything a connection coroutine uses; kept alive by each of them, so a
// coroutine frame destroyed late (io_context teardown) never dangles.
struct HttpServer::Shared {
  Shared(asio::any_io_executor ex, core::JobManager& manager,
         HttpOptions options_in)
      : executor(std::move(ex)),
        options(std::move(options_in)),
        router(manager, options, metrics, [this] { return !stopping.load(); }),
        context{options, metrics, router, sse_texts},
        acceptor(asio::make_strand(executor)) {}

  const asio::any_io_executor executor;
  const HttpOptions options;
  HttpMetrics metrics;
  SseTextCache sse_texts;
  const Router router;
  const SessionContext context;
  // Set by Start when options.tls is: every connection is then TLS.
  std::shared_ptr<asio::ssl::context> tls_context;
  tcp::acceptor acceptor;
  std::atomic<bool> stopping{false};

  std::mutex mu;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections;
  std::uint64_t next_connection = 0;
};

namespace {

// One connection, start to end; the frame keeps `shared` and the connection
// alive.
template <typename Stream>
awaitable<void> Serve(std::shared_ptr<HttpServer::Shared> shared,
                      std::shared_ptr<ConnectionOf<Stream>> connection) {
  co_await RunSession(connection->stream, shared->context);
  connection->tcp().close();
}

// Registers the connection (so Stop can close it) and spawns its session.
// False when the server is stopping (the connection is dropped).
template <typename Stream>
bool Spawn(const std::shared_ptr<HttpServer::Shared>& shared,
           std::shared_ptr<ConnectionOf<Stream>> connection) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(shared->mu);
    if (shared->stopping.load()) return false;  // Stop() is closing the rest
    id = shared->next_connection++;
    shared->connections.emplace(id, connection);
  }
  shared->metrics.ConnectionOpened();
  // Spawned onto the connection's strand: every step of the session
  // resumes there.
  const asio::any_io_executor strand = connection->tcp().get_executor();
  asio::co_spawn(strand, Serve<Stream>(shared, std::move(connection)),
                 [shared, id](std::exception_ptr e) {
                   if (e != nullptr) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& error) {
                       spdlog::warn("http connection failed: {}", error.what());
                     }
                   }
                   shared->metrics.ConnectionClosed();
                   std::lock_guard lock(shared->mu);
                   shared->connections.erase(id);
                 });
  return true;
}

// The accept loop; runs on the acceptor's strand.
awaitable<void> AcceptLoop(std::shared_ptr<HttpServer::Shared> shared) {
  asio::steady_timer backoff(shared->acceptor.get_executor());
  for (;;) {
    // Each connection gets its own strand: its session coroutine and the
    // close watcher of an event stream never run at once.
    boost::system::error_code ec;
    tcp::socket socket(shared->executor);
    std::tie(ec, socket) = co_await shared->acceptor.async_accept(
        asio::make_strand(shared->executor), kNoThrow);
    if (ec) {
      if (shared->stopping.load() || !shared->acceptor.is_open()) co_return;
      // E.g. out of file descriptors: back off instead of spinning.
      spdlog::warn("http accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kNoThrow);
      continue;
    }
    // Event streams write small pieces: without this, Nagle holds each one
    // back until the client's delayed ACK (about 40 ms on Linux).
    socket.set_option(tcp::no_delay(true), ec);
    // (The TLS handshake runs in the connection's own coroutine, so a slow
    // client never holds up accepting.)
    bool spawned = false;
    if (shared->tls_context != nullptr) {
      spawned = Spawn(shared, std::make_shared<ConnectionOf<TlsStream>>(
                                  std::move(socket), *shared->tls_context));
    } else {
      spawned =
          Spawn(shared,
                std::make_shared<ConnectionOf<PlainStream>>(std::move(socket)));
    }
    if (!spawned) co_return;
  }
}

}  // namespace

HttpServer::HttpServer(asio::any_io_executor executor,
                       core::JobManager& manager, HttpOptions options)
    : shared_(std::make_shared<Shared>(std::move(executor), manager,
                                       std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start(const std::string& listen) {
  auto error = [&listen](const std::string& why) {
    return Error{ErrorCode::kUnavailable,
                 "cannot listen for HTTP on '" + listen + "': " + why,
                 "http_listen"};
  };
  std::string host, port;
  if (!SplitHostPort(listen, &host, &port)) return error("not HOST:PORT");
  if (shared_->options.tls != nullptr) {
    Result<std::shared_ptr<asio::ssl::context>> context =
        edge::MakeServerTlsContext(*shared_->options.tls);
    if (!context.ok()) return context.error();
    shared_->tls_context = std::move(context.value());
  }
  boost::system::error_code ec;
  tcp::resolver resolver(shared_->executor);
  auto endpoints = resolver.resolve(
      host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return error(ec ? ec.message() : "no address");
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  tcp::acceptor& acceptor = shared_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor.close(ec);
    return error(ec.message());
  }
  port_ = acceptor.local_endpoint().port();
  asio::co_spawn(acceptor.get_executor(), AcceptLoop(shared_),
                 [](std::exception_ptr e) {
                   if (e == nullptr) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& error) {
                     spdlog::error("http accept loop failed: {}", error.what());
                   }
                 });
  // tls=on: HTTPS only; tls=mtls: also a client certificate is required.
  const char* mode = "off";
  if (shared_->options.tls != nullptr) {
    mode = shared_->options.tls->require_client_cert() ? "mtls" : "on";
  }
  spdlog::info("http gateway serving http={} port={} max_body_bytes={} tls={}",
               listen, port_, shared_->options.max_body_bytes, mode);
  return {};
}

void HttpServer::Stop(std::chrono::milliseconds grace) {
  if (shared_->stopping.exchange(true)) return;
  // Close on each object's own strand (Asio objects are not thread-safe).
  asio::dispatch(shared_->acceptor.get_executor(), [shared = shared_] {
    boost::system::error_code ignored;
    shared->acceptor.close(ignored);
  });
  auto close_all = [shared = shared_] {
    std::vector<std::shared_ptr<Connection>> open;
    {
      std::lock_guard lock(shared->mu);
      for (auto& [id, weak] : shared->connections) {
        if (auto connection = weak.lock()) {
          open.push_back(std::move(connection));
        }
      }
    }
    for (auto& connection : open) {
      asio::dispatch(connection->tcp().get_executor(),
                     [connection] { connection->tcp().close(); });
    }
    if (!open.empty()) {
      spdlog::info("http gateway stopped; closed {} connections", open.size());
    }
  };
  // Only event streams have something left to send.
  if (grace.count() <= 0 || shared_->metrics.active_streams() == 0) {
    close_all();
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(shared_->executor, grace);
  timer->async_wait(
      [timer, close_all](const boost::system::error_code&) { close_all(); });
}

const HttpMetrics& HttpServer::metrics() const { return shared_->metrics; }

}  // namespace impulse::rest
