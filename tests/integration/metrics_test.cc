// WatchMetrics (the live system monitor) and the Prometheus counters, over a
// real server.
#include "impulse/v1/metrics.grpc.pb.h"
#include "tests/integration/server_fixture.h"

namespace impulse::testing {
namespace {

TEST_F(ServerTest, WatchMetricsStreamsSamplesAtTheAskedInterval) {
  auto stub = v1::MetricsService::NewStub(channel_);
  grpc::ClientContext context;
  v1::WatchMetricsRequest request;
  request.set_interval_ms(50);
  request.set_window(4);
  auto reader = stub->WatchMetrics(&context, request);
  std::vector<v1::MetricsSample> samples;
  v1::MetricsSample sample;
  while (samples.size() < 5 && reader->Read(&sample)) samples.push_back(sample);
  context.TryCancel();
  reader->Finish();
  ASSERT_EQ(samples.size(), 5u);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const v1::MetricsSample& s = samples[i];
    EXPECT_EQ(s.seq(), i + 1);
    EXPECT_FALSE(s.core_load().empty());
    EXPECT_EQ(s.core_load_size(), s.avg_core_load_size());
    EXPECT_GE(s.total_load(), 0.0);
    EXPECT_LE(s.total_load(), 1.0);
    EXPECT_GT(s.mem_total_bytes(), 0u);
    EXPECT_EQ(s.gpu_utilization(), -1.0);  // no GPU here
  }
  const auto span_ms =
      (samples.back().time().seconds() - samples.front().time().seconds()) *
          1000 +
      (samples.back().time().nanos() - samples.front().time().nanos()) / 1e6;
  EXPECT_GE(span_ms, 4 * 50 - 10);  // four intervals between five samples
}

TEST_F(ServerTest, WatchMetricsRaisesAnAlertWhenLoadStaysAboveTheThreshold) {
  auto stub = v1::MetricsService::NewStub(channel_);
  grpc::ClientContext context;
  v1::WatchMetricsRequest request;
  request.set_interval_ms(50);
  request.set_window(1);
  request.set_alert_threshold(1e-9);  // any load at all counts as high
  request.set_alert_after_ms(100);
  // Keep the CPU pool busy so the load is not zero.
  v1::Job busy = MustSubmit(LongParticlesSpec());
  auto reader = stub->WatchMetrics(&context, request);
  v1::MetricsSample sample;
  int raised = 0;
  for (int i = 0; i < 100 && reader->Read(&sample); ++i) {
    if (sample.alert().kind() == v1::AlertEvent::RAISED) {
      ++raised;
      EXPECT_TRUE(sample.alert_active());
      break;
    }
  }
  context.TryCancel();
  reader->Finish();
  EXPECT_EQ(raised, 1);
  ASSERT_TRUE(Cancel(busy.id()).ok());
}

TEST_F(ServerTest, WatchMetricsRejectsABadIntervalNamingTheField) {
  auto stub = v1::MetricsService::NewStub(channel_);
  grpc::ClientContext context;
  v1::WatchMetricsRequest request;
  request.set_interval_ms(1);
  auto reader = stub->WatchMetrics(&context, request);
  v1::MetricsSample sample;
  EXPECT_FALSE(reader->Read(&sample));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("interval_ms:", 0), 0u);
}

TEST_F(ServerTest, PrometheusTextCountsJobsAndCalls) {
  WaitDone(MustSubmit(PiSpec(1000, 1)).id());
  v1::Job bad;
  Submit(PiSpec(0, 1), &bad);  // INVALID_ARGUMENT
  const std::string text = server_->MetricsText();
  EXPECT_NE(text.find("impulse_jobs_submitted_total{kind=\"pi\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("impulse_jobs_finished_total{kind=\"pi\",device=\"CPU\","
                      "state=\"SUCCEEDED\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("impulse_grpc_requests_total{method=\"Submit\",code="
                      "\"INVALID_ARGUMENT\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          "impulse_job_duration_seconds_count{kind=\"pi\",device=\"CPU\"} 1"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("impulse_queue_depth 0"), std::string::npos) << text;
}

}  // namespace
}  // namespace impulse::testing
