#include "server/metrics/registry.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "server/metrics/server_metrics.h"

namespace impulse::metrics {
namespace {

TEST(RegistryTest, RendersExactTextFormat) {
  Registry r;
  auto& jobs = r.AddCounter("impulse_jobs_total", "Jobs by kind.",
                            {"kind", "device", "state"});
  jobs.WithLabels({"pi", "CPU", "SUCCEEDED"}).Increment(3);
  jobs.WithLabels({"particles", "GPU", "FAILED"}).Increment();
  r.AddCounter("impulse_unused_total", "Never touched.", {"kind"});
  r.AddGauge("impulse_queue_depth", "Queued jobs.").Get().Set(7);
  r.AddGauge("impulse_utilization", "Busy fraction.").Get().Set(0.25);
  auto& latency = r.AddHistogram("impulse_latency_seconds", "Latency.",
                                 {"method"}, {0.25, 0.5, 1});
  Histogram& submit = latency.WithLabels({"Submit"});
  for (double v : {0.125, 0.25, 0.375, 2.0}) submit.Observe(v);
  r.AddCounter("impulse_plain_total", "No labels.");

  const std::string expected =
      "# HELP impulse_jobs_total Jobs by kind.\n"
      "# TYPE impulse_jobs_total counter\n"
      "impulse_jobs_total{kind=\"particles\",device=\"GPU\",state=\"FAILED\"} "
      "1\n"
      "impulse_jobs_total{kind=\"pi\",device=\"CPU\",state=\"SUCCEEDED\"} 3\n"
      "# HELP impulse_queue_depth Queued jobs.\n"
      "# TYPE impulse_queue_depth gauge\n"
      "impulse_queue_depth 7\n"
      "# HELP impulse_utilization Busy fraction.\n"
      "# TYPE impulse_utilization gauge\n"
      "impulse_utilization 0.25\n"
      "# HELP impulse_latency_seconds Latency.\n"
      "# TYPE impulse_latency_seconds histogram\n"
      "impulse_latency_seconds_bucket{method=\"Submit\",le=\"0.25\"} 2\n"
      "impulse_latency_seconds_bucket{method=\"Submit\",le=\"0.5\"} 3\n"
      "impulse_latency_seconds_bucket{method=\"Submit\",le=\"1\"} 3\n"
      "impulse_latency_seconds_bucket{method=\"Submit\",le=\"+Inf\"} 4\n"
      "impulse_latency_seconds_sum{method=\"Submit\"} 2.75\n"
      "impulse_latency_seconds_count{method=\"Submit\"} 4\n"
      "# HELP impulse_plain_total No labels.\n"
      "# TYPE impulse_plain_total counter\n"
      "impulse_plain_total 0\n";
  EXPECT_EQ(r.RenderText(), expected);
}

TEST(RegistryTest, UnlabelledHistogramHasOnlyLe) {
  Registry r;
  auto& h = r.AddHistogram("h_seconds", "H.", {}, {1});
  h.Get().Observe(0.5);
  EXPECT_EQ(r.RenderText(),
            "# HELP h_seconds H.\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"1\"} 1\n"
            "h_seconds_bucket{le=\"+Inf\"} 1\n"
            "h_seconds_sum 0.5\n"
            "h_seconds_count 1\n");
}

TEST(RegistryTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeHelp("back\\slash \"quoted\"\nline"),
            "back\\\\slash \"quoted\"\\nline");

  Registry r;
  auto& f = r.AddCounter("esc_total", "Help with \\ and\nnewline.", {"path"});
  f.WithLabels({"C:\\dir \"x\"\n"}).Increment();
  EXPECT_EQ(r.RenderText(),
            "# HELP esc_total Help with \\\\ and\\nnewline.\n"
            "# TYPE esc_total counter\n"
            "esc_total{path=\"C:\\\\dir \\\"x\\\"\\n\"} 1\n");
}

TEST(RegistryTest, FormatsValues) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(1e6), "1000000");
  EXPECT_EQ(FormatValue(25275293696.0), "25275293696");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(2.5e-7), "2.5e-07");
  EXPECT_EQ(FormatValue(1e300), "1e+300");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(HistogramTest, BucketMathIsCumulativeWithInclusiveUpperBounds) {
  Histogram h({1, 2, 5, 10});
  // le=1: {0, 1}; le=2: +{1.5, 2}; le=5: +{}; le=10: +{7}; +Inf: +{11, 100}.
  for (double v : {0.0, 1.0, 1.5, 2.0, 7.0, 11.0, 100.0}) h.Observe(v);
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.upper_bounds, (std::vector<double>{1, 2, 5, 10}));
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 4, 4, 5, 7}));
  EXPECT_EQ(s.count, 7u);
  EXPECT_DOUBLE_EQ(s.sum, 122.5);
}

TEST(HistogramTest, NegativeGoesToFirstBucketNanToInf) {
  Histogram h({0, 1});
  h.Observe(-5);
  h.Observe(std::numeric_limits<double>::quiet_NaN());
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{1, 1, 2}));
}

TEST(HistogramTest, ValidatesBuckets) {
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({std::numeric_limits<double>::quiet_NaN()}),
               std::invalid_argument);
  Histogram h({1, 2, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(h.upper_bounds(), (std::vector<double>{1, 2}));
  EXPECT_EQ(LinearBuckets(1, 2, 3), (std::vector<double>{1, 3, 5}));
  EXPECT_EQ(ExponentialBuckets(1, 10, 3), (std::vector<double>{1, 10, 100}));
}

TEST(HistogramTest, ObserveDuration) {
  Histogram h({0.01, 1});
  h.ObserveDuration(std::chrono::milliseconds(250));
  const HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{0, 1, 1}));
  EXPECT_DOUBLE_EQ(s.sum, 0.25);
}

TEST(CounterTest, IgnoresNegativeAndNan) {
  Counter c;
  c.Increment(2);
  c.Increment(-1);
  c.Increment(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(c.Value(), 2);
}

TEST(ConcurrencyTest, CounterIncrementsFromThreadsSumCorrectly) {
  Registry r;
  auto& family = r.AddCounter("c_total", "C.", {"kind"});
  auto& gauges = r.AddGauge("g", "G.");
  auto& hist = r.AddHistogram("h", "H.", {}, {0.5});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  std::vector<Counter*> seen(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Every thread looks the child up itself: all get the same object.
      Counter& c = family.WithLabels({"pi"});
      seen[t] = &c;
      Gauge& g = gauges.Get();
      Histogram& h = hist.Get();
      for (int i = 0; i < kPerThread; ++i) {
        c.Increment();
        g.Increment();
        g.Decrement();
        h.Observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (Counter* c : seen) EXPECT_EQ(c, seen[0]);
  EXPECT_EQ(family.WithLabels({"pi"}).Value(), kThreads * kPerThread);
  EXPECT_EQ(family.size(), 1u);
  EXPECT_EQ(gauges.Get().Value(), 0);
  const HistogramSnapshot s = hist.Get().Snapshot();
  EXPECT_EQ(s.count, static_cast<std::uint64_t>(kThreads) * kPerThread);
  EXPECT_EQ(s.cumulative[0], s.count / 2);
  EXPECT_DOUBLE_EQ(s.sum, kThreads * kPerThread / 2 * 1.25);
}

TEST(ConcurrencyTest, RenderWhileUpdating) {
  Registry r;
  auto& family = r.AddCounter("c_total", "C.", {"worker"});
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        family.WithLabels({std::to_string((t * 20000 + i) % 97)}).Increment();
      }
    });
  }
  std::thread scraper([&] {
    while (!done.load()) EXPECT_FALSE(r.RenderText().empty());
  });
  for (auto& t : threads) t.join();
  done = true;
  scraper.join();
  double total = 0;
  for (int i = 0; i < 97; ++i) {
    total += family.WithLabels({std::to_string(i)}).Value();
  }
  EXPECT_EQ(total, 80000);
}

TEST(RegistryTest, LabelLookupsAreStableAndChecked) {
  Registry r;
  auto& f = r.AddGauge("g", "G.", {"a", "b"});
  Gauge& x = f.WithLabels({"1", "2"});
  const std::vector<std::string> values = {"1", "2"};
  EXPECT_EQ(&f.WithLabels(values), &x);
  const std::string_view views[] = {"1", "2"};
  EXPECT_EQ(&f.WithLabels(std::span<const std::string_view>(views)), &x);
  for (int i = 0; i < 1000; ++i) f.WithLabels({"n", std::to_string(i)});
  EXPECT_EQ(&f.WithLabels({"1", "2"}), &x);  // map growth does not move it
  EXPECT_THROW(f.WithLabels({"only-one"}), std::invalid_argument);
  EXPECT_THROW(f.Get(), std::logic_error);
}

TEST(RegistryTest, RejectsBadAndDuplicateNames) {
  Registry r;
  r.AddCounter("ok_total", "x");
  EXPECT_THROW(r.AddCounter("ok_total", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("9starts_with_digit", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("has-dash", "x"), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("g", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.AddGauge("g", "x", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h", "x", {"le"}, {1}), std::invalid_argument);
  r.AddHistogram("lat", "x", {}, {1});
  EXPECT_THROW(r.AddCounter("lat_count", "x"), std::invalid_argument);
  EXPECT_TRUE(IsValidMetricName("a:b_c9"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
}

TEST(RegistryTest, ScrapeHooksRunBeforeRendering) {
  Registry r;
  Gauge& g = r.AddGauge("g", "G.").Get();
  int calls = 0;
  r.AddScrapeHook([&] { g.Set(++calls); });
  EXPECT_EQ(r.RenderText(), "# HELP g G.\n# TYPE g gauge\ng 1\n");
  EXPECT_EQ(r.RenderText(), "# HELP g G.\n# TYPE g gauge\ng 2\n");
}

// Every sample line of the standard families parses as
// name{label="value",...} value.
TEST(ServerMetricsTest, StandardFamiliesRenderValidText) {
  Registry r;
  ServerMetrics m(r);
  m.jobs_submitted.WithLabels({"pi"}).Increment();
  m.jobs_finished.WithLabels({"pi", "CPU", "SUCCEEDED"}).Increment();
  m.job_duration.WithLabels({"pi", "CPU"}).Observe(0.3);
  m.queue_depth.Set(4);
  m.jobs_running.Set(2);
  m.active_watchers.Increment();
  m.cpu_pool_utilization.Set(0.5);
  m.gpu_streams_busy.Set(1);
  m.grpc_requests.WithLabels({"/impulse.v1.JobService/Submit", "OK"})
      .Increment();
  m.grpc_request_duration.WithLabels({"/impulse.v1.JobService/Submit"})
      .Observe(0.002);
  m.http_requests.WithLabels({"/v1/jobs/{id}", "404"}).Increment();
  m.http_request_duration.WithLabels({"/v1/jobs/{id}"}).Observe(0.001);

  const std::string text = r.RenderText();
  for (const char* line : {
           "impulse_jobs_submitted_total{kind=\"pi\"} 1\n",
           "impulse_jobs_finished_total{kind=\"pi\",device=\"CPU\",state="
           "\"SUCCEEDED\"} 1\n",
           "impulse_job_duration_seconds_bucket{kind=\"pi\",device=\"CPU\","
           "le=\"0.5\"} 1\n",
           "impulse_job_duration_seconds_count{kind=\"pi\",device=\"CPU\"} 1\n",
           "impulse_queue_depth 4\n",
           "impulse_jobs_running 2\n",
           "impulse_active_watchers 1\n",
           "impulse_cpu_pool_utilization 0.5\n",
           "impulse_gpu_streams_busy 1\n",
           "impulse_grpc_requests_total{method=\"/impulse.v1.JobService/"
           "Submit\",code=\"OK\"} 1\n",
           "# TYPE impulse_grpc_request_duration_seconds histogram\n",
           "impulse_http_requests_total{route=\"/v1/jobs/"
           "{id}\",status=\"404\"} "
           "1\n",
           "impulse_http_request_duration_seconds_count{route=\"/v1/jobs/"
           "{id}\"} 1\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }

  const std::regex sample(
      R"re([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*\})? (-?[0-9.e+-]+|[+-]Inf|NaN))re");
  const std::regex comment(R"re(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*)re");
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("#")) {
      EXPECT_TRUE(std::regex_match(line, comment)) << line;
    } else {
      EXPECT_TRUE(std::regex_match(line, sample)) << line;
      ++samples;
    }
  }
  EXPECT_GT(samples, 50);
  // The families are registered once per registry.
  EXPECT_THROW(ServerMetrics{r}, std::invalid_argument);
}

}  // namespace
}  // namespace impulse::metrics
