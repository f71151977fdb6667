// The gateway's pure parts without a network: routing (404/405, route
// templates, what each route answers), target parsing, protobuf JSON errors,
// SSE framing, error bodies and the metrics text.
#include "server/rest/router.h"

#include <gtest/gtest.h>

#include <variant>

#include "server/core/job_manager.h"
#include "server/rest/http_metrics.h"
#include "server/rest/json_errors.h"
#include "server/rest/proto_json.h"
#include "server/rest/sse_stream.h"
#include "server/rest/sse_text_cache.h"
#include "server/rest/target.h"

namespace impulse::rest {
namespace {

core::JobManagerOptions ManagerOptions() {
  core::JobManagerOptions options;
  options.scheduler.cpu_threads = 1;
  return options;
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest()
      : manager_(ManagerOptions()),
        router_(manager_, options_, metrics_, [] { return true; }) {}

  Routed Handle(http::verb method, std::string target, std::string body = "") {
    Request request{method, target, 11};
    request.body() = std::move(body);
    request.prepare_payload();
    return router_.HandleBlocking(request);
  }
  static const Response& AsResponse(const Routed& routed) {
    EXPECT_TRUE(std::holds_alternative<Response>(routed.reply));
    return std::get<Response>(routed.reply);
  }

  HttpOptions options_;
  HttpMetrics metrics_;
  core::JobManager manager_;
  Router router_;
};

TEST_F(RouterTest, UnknownPathsAre404AndKnownOnesWithAnotherMethod405) {
  Routed routed = Handle(http::verb::get, "/v1/nothing");
  EXPECT_EQ(AsResponse(routed).result_int(), 404);
  EXPECT_EQ(routed.route, "other");

  routed = Handle(http::verb::patch, "/v1/jobs/j-1");
  EXPECT_EQ(AsResponse(routed).result_int(), 405);
  EXPECT_EQ(AsResponse(routed)[http::field::allow], "GET, HEAD, DELETE");
  EXPECT_EQ(routed.route, "/v1/jobs/{id}");
}

TEST_F(RouterTest, RoutesAreNamedByTemplate) {
  EXPECT_EQ(Handle(http::verb::get, "/v1/jobs/j-1").route, "/v1/jobs/{id}");
  EXPECT_EQ(Handle(http::verb::delete_, "/v1/jobs/j-1").route, "/v1/jobs/{id}");
  EXPECT_EQ(Handle(http::verb::post, "/v1/jobs/j-1:cancel").route,
            "/v1/jobs/{id}:cancel");
  EXPECT_EQ(Handle(http::verb::get, "/v1/jobs/j-1/result").route,
            "/v1/jobs/{id}/result");
  EXPECT_EQ(Handle(http::verb::get, "/v1/jobs/j-1/events").route,
            "/v1/jobs/{id}/events");
  EXPECT_EQ(Handle(http::verb::get, "/v1/jobs?state=QUEUED").route, "/v1/jobs");
}

TEST_F(RouterTest, SubmitAnswersTheJobAndEventsAnswerAStream) {
  Routed submitted =
      Handle(http::verb::post, "/v1/jobs", R"({"pi": {"samples": "1000"}})");
  const Response& res = AsResponse(submitted);
  ASSERT_EQ(res.result_int(), 200) << res.body();
  EXPECT_EQ(res[http::field::content_type], "application/json");
  v1::Job job;
  ASSERT_TRUE(FromJson(res.body(), &job, "").ok());

  Request request{http::verb::get,
                  "/v1/jobs/" + job.id() + "/events?after_seq=0", 11};
  request.set("Last-Event-ID", "0");
  Routed events = router_.Handle(request);
  // Either a stream, or 204 when the job already ended and the client has
  // everything (it has nothing here, so a stream).
  ASSERT_TRUE(std::holds_alternative<EventStreamReply>(events.reply));
  EXPECT_EQ(std::get<EventStreamReply>(events.reply).job->id(), job.id());
}

// Handle leaves a job to submit to its caller (the session awaits
// core::AsyncSubmit); a bad spec is answered at once.
TEST_F(RouterTest, SubmitsAreLeftToTheCallerAndAnsweredByAnswerSubmit) {
  Request request{http::verb::post, "/v1/jobs:run", 11};
  request.body() = R"({"pi": {"samples": "1000"}})";
  request.prepare_payload();
  Routed routed = router_.Handle(request);
  EXPECT_EQ(routed.route, "/v1/jobs:run");
  ASSERT_TRUE(std::holds_alternative<SubmitReply>(routed.reply));
  const SubmitReply& submit = std::get<SubmitReply>(routed.reply);
  EXPECT_TRUE(submit.stream);
  EXPECT_EQ(submit.spec.pi().samples(), 1000u);
  EXPECT_EQ(manager_.List(v1::ListJobsRequest(), "")->jobs_size(), 0)
      << "Handle itself submitted";

  Reply answer = AnswerSubmit(submit, manager_.Submit(submit.spec, ""));
  ASSERT_TRUE(std::holds_alternative<EventStreamReply>(answer));
  EXPECT_EQ(std::get<EventStreamReply>(answer).after_seq, 0u);

  answer = AnswerSubmit(
      submit, Error::InvalidArgument("spec.pi.samples", "must be positive"));
  ASSERT_TRUE(std::holds_alternative<Response>(answer));
  EXPECT_EQ(std::get<Response>(answer).result_int(), 400);
  EXPECT_NE(std::get<Response>(answer).body().find("spec.pi.samples"),
            std::string::npos);

  request.body() = R"({"pi": {"samples": "many"}})";
  request.prepare_payload();
  EXPECT_EQ(AsResponse(router_.Handle(request)).result_int(), 400);
}

TEST_F(RouterTest, ReadyzFollowsTheReadyHook) {
  bool ready = true;
  options_.ready = [&ready] { return ready; };
  EXPECT_EQ(AsResponse(Handle(http::verb::get, "/readyz")).result_int(), 200);
  ready = false;
  Routed routed = Handle(http::verb::get, "/readyz");
  EXPECT_EQ(AsResponse(routed).result_int(), 503);
  EXPECT_EQ(AsResponse(routed)[http::field::retry_after], "1");
}

TEST(TargetTest, SplitsPathAndDecodesQuery) {
  Result<Target> target =
      ParseTarget("/v1/jobs?state=RUNNING&label=team%3Ablue&label=a+b&x=");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->path, "/v1/jobs");
  ASSERT_EQ(target->query.size(), 4u);
  EXPECT_EQ(target->query[1].second, "team:blue");
  EXPECT_EQ(target->query[2].second, "a b");
  EXPECT_EQ(target->query[3].second, "");
  EXPECT_FALSE(ParseTarget("/x?a=%4").ok());
  EXPECT_FALSE(ParseTarget("/x?a=%zz").ok());
  EXPECT_FALSE(ParseTarget("http://host/x").ok());
}

TEST(ProtoJsonTest, ErrorsNameTheField) {
  v1::JobSpec spec;
  Status status = FromJson(R"({"pi": {"samplez": 1}})", &spec, "spec");
  EXPECT_EQ(status.error().field, "spec.pi.samplez");
  EXPECT_EQ(status.error().message, "unknown field");
  status =
      FromJson(R"({"particles": {"particles": [{"x": "y"}]}})", &spec, "spec");
  EXPECT_EQ(status.error().field, "spec.particles.particles[0].x");
  status = FromJson(R"({"pi": )", &spec, "spec");
  EXPECT_EQ(status.error().field, "spec");
  EXPECT_EQ(status.error().message.find('\n'), std::string::npos);
  EXPECT_TRUE(FromJson(R"({"pi": {"samples": "5"}})", &spec, "spec").ok());
  EXPECT_EQ(spec.pi().samples(), 5u);
}

TEST(SseTest, EventsAreFramedWithIdEventAndOneDataLine) {
  v1::JobEvent event;
  event.set_seq(7);
  event.set_job_id("j-1");
  event.set_type(v1::PROGRESS);
  event.set_fraction(0.5);
  const std::string text = FormatSseEvent(event);
  EXPECT_TRUE(text.starts_with("id: 7\nevent: progress\ndata: {")) << text;
  EXPECT_TRUE(text.ends_with("}\n\n"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4);
  event.set_type(v1::STATE_CHANGED);
  EXPECT_NE(FormatSseEvent(event).find("event: state_changed\n"),
            std::string::npos);
}

TEST(SseTextCacheTest, FormatsEachEventOnceAndForgetsUnwatchedJobs) {
  SseTextCache cache;
  core::JobRecord job("j-1", 1, v1::JobSpec(), core::EventLog::Options{});
  std::shared_ptr<JobEventTexts> texts = cache.For(job);
  EXPECT_EQ(cache.For(job), texts);  // shared by the job's streams
  v1::JobEvent event;
  event.set_seq(3);
  event.set_type(v1::PROGRESS);
  std::shared_ptr<const std::string> first = texts->Text(event);
  EXPECT_EQ(*first, FormatSseEvent(event));
  EXPECT_EQ(texts->Text(event), first);  // the same text, not a new one
  // Bounded: the oldest events fall out.
  for (std::uint64_t seq = 4; seq < 4 + JobEventTexts::kMaxEntries; ++seq) {
    event.set_seq(seq);
    texts->Text(event);
  }
  event.set_seq(3);
  EXPECT_NE(texts->Text(event), first);
  // Once no stream holds it, the job's cache goes.
  std::weak_ptr<JobEventTexts> weak = texts;
  texts.reset();
  EXPECT_TRUE(weak.expired());
}

TEST(JsonErrorsTest, BodiesAreEscapedJsonAndStatusesComeFromTheEdge) {
  EXPECT_EQ(ErrorJson("X", "say \"hi\"\n", "a.b"),
            R"({"error":{"code":"X","message":"say \"hi\"\n","field":"a.b"}})");
  Response res =
      ErrorResponse(Error{ErrorCode::kResourceExhausted, "queue full", ""});
  EXPECT_EQ(res.result_int(), 429);
  EXPECT_EQ(res[http::field::retry_after], "1");
  res = ErrorResponse(Error{ErrorCode::kAlreadyExists, "dup", "k"});
  EXPECT_EQ(res.result_int(), 409);
  EXPECT_TRUE(res[http::field::retry_after].empty());
}

TEST(HttpMetricsTest, RendersCountersAndHistograms) {
  HttpMetrics metrics;
  metrics.RecordRequest("/healthz", 200, std::chrono::milliseconds(2));
  metrics.RecordRequest("/healthz", 200, std::chrono::seconds(5));
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("impulse_http_requests_total{route=\"/healthz\","
                      "status=\"200\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("impulse_http_request_duration_seconds_bucket{route="
                      "\"/healthz\",le=\"0.0025\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("impulse_http_request_duration_seconds_count{route="
                      "\"/healthz\"} 2"),
            std::string::npos);
  // Left to the process registry when it counts requests.
  EXPECT_EQ(metrics.Render(false).find("impulse_http_requests_total"),
            std::string::npos);
  EXPECT_NE(metrics.Render(false).find("impulse_http_sse_streams_active 0"),
            std::string::npos);
}

}  // namespace
}  // namespace impulse::rest
