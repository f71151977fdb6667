// The REST gateway: a Boost.Beast HTTP/1.1 server on the process's io_context.
// An accept loop spawns one coroutine per connection (see http_session.h),
// each on its own strand; requests are routed by Router to the JobManager.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "compute/common/status.h"
#include "server/core/job_manager.h"
#include "server/rest/http_metrics.h"
#include "server/rest/http_options.h"

namespace impulse::rest {

class HttpServer {
 public:
  // `manager` must outlive every connection (ImpulseServer stops this
  // server and joins its io threads before destroying the manager).
  HttpServer(boost::asio::any_io_executor executor, core::JobManager& manager,
             HttpOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds HOST:PORT ("127.0.0.1:8080", "[::1]:0", "0.0.0.0:8080"; port 0
  // picks a free port) and starts accepting; the loop runs once the
  // executor's threads run. An error names the address.
  Status Start(const std::string& listen);
  // The bound port (the chosen one when listening on port 0).
  int port() const { return port_; }

  // Stops accepting at once (and /readyz answers 503); after `grace`,
  // closes every open connection, so event streams can first send what is
  // pending. Returns at once; the coroutines finish on the io threads.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

  const HttpMetrics& metrics() const;

  // What the connection coroutines share (an implementation detail).
  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  int port_ = 0;
};

}  // namespace impulse::rest
