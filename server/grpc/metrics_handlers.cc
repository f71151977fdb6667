#include "server/grpc/metrics_handlers.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>

#include "server/core/metrics_feed.h"
#include "server/grpc/rpc_loops.h"

namespace impulse::grpc_bridge {

namespace asio = boost::asio;

MetricsHandlers::MetricsHandlers(const core::JobManager& manager,
                                 asio::any_io_executor executor,
                                 metrics::ServerMetrics* metrics)
    : manager_(manager), executor_(std::move(executor)), metrics_(metrics) {}

void MetricsHandlers::Start(grpc::ServerCompletionQueue* cq, int listeners) {
  using Service = v1::MetricsService::AsyncService;
  const core::JobManager* manager = &manager_;
  metrics::Gauge* watchers =
      metrics_ != nullptr ? &metrics_->active_watchers : nullptr;
  auto watch = [manager, watchers](
                   StreamCall<v1::WatchMetricsRequest, v1::MetricsSample>& call)
      -> asio::awaitable<grpc::Status> {
    Result<core::MetricsFeed::Options> options =
        core::MetricsFeed::FromRequest(call.request);
    if (!options.ok()) co_return StatusOf(options.error(), call.context);
    ScopedGaugeIncrement watching(watchers);
    core::MetricsFeed feed(options.value(), *manager);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    // The loop notices a gone client at the next write or tick (>= 50 ms).
    while (!call.done.load()) {
      timer.expires_after(feed.interval());
      const v1::MetricsSample sample = feed.Next();
      if (!co_await Write(call.writer, sample, asio::use_awaitable,
                          &call.write_step)) {
        break;
      }
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return grpc::Status::OK;
  };
  for (int i = 0; i < listeners; ++i) {
    asio::co_spawn(executor_,
                   ServeStream<v1::WatchMetricsRequest, v1::MetricsSample>(
                       gate_, RpcMetrics{metrics_, "WatchMetrics"}, &service_,
                       &Service::RequestWatchMetrics, cq, watch),
                   asio::detached);
  }
}

}  // namespace impulse::grpc_bridge
