// The REST gateway end to end: a real ImpulseServer on loopback and a real
// HTTP client. Every route, Server-Sent Events and their resumption, the
// error mapping, and the limits that protect the server.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/message_differencer.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "tests/rest/rest_fixture.h"

namespace impulse::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

struct ErrorBody {
  std::string code;
  std::string message;
  std::string field;
};

// The JSON string value of "key" in `body` (first occurrence), unescaped.
std::string JsonStringAt(const std::string& body, const std::string& key) {
  const std::string start = "\"" + key + "\":\"";
  std::size_t at = body.find(start);
  EXPECT_NE(at, std::string::npos) << key << " in " << body;
  if (at == std::string::npos) return "";
  std::string value;
  for (at += start.size(); at < body.size() && body[at] != '"'; ++at) {
    if (body[at] == '\\' && at + 1 < body.size()) {
      ++at;
      value.push_back(body[at] == 'n' ? '\n' : body[at]);
    } else {
      value.push_back(body[at]);
    }
  }
  return value;
}

// {"error":{"code":...,"message":...,"field":...}}
ErrorBody ErrorOf(const std::string& body) {
  EXPECT_TRUE(body.starts_with(R"({"error":{"code":")")) << body;
  return {JsonStringAt(body, "code"), JsonStringAt(body, "message"),
          JsonStringAt(body, "field")};
}

bool IsTerminal(const v1::JobEvent& event) {
  return event.type() == v1::STATE_CHANGED &&
         (event.state() == v1::SUCCEEDED || event.state() == v1::FAILED ||
          event.state() == v1::CANCELLED);
}

std::vector<v1::JobEvent> Decode(const std::vector<SseEvent>& events) {
  std::vector<v1::JobEvent> out;
  for (const SseEvent& e : events) {
    out.push_back(ParseJson<v1::JobEvent>(e.data));
  }
  return out;
}

constexpr char kPiJson[] = R"({"pi": {"samples": "1000001", "seed": "7"}})";

// ------------------------------------------------------- health, docs, metrics

TEST_F(RestTest, HealthzReadyzAndOpenApiAnswer) {
  HttpReply health = client().Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_TRUE(health.keep_alive);

  HttpReply ready = client().Get("/readyz");
  EXPECT_EQ(ready.status, 200);

  HttpReply doc = client().Get("/v1/openapi.json");
  EXPECT_EQ(doc.status, 200);
  EXPECT_EQ(doc.Header("Content-Type"), "application/json");
  ParseJson<google::protobuf::Struct>(doc.body);  // valid JSON
  EXPECT_NE(doc.body.find(R"("openapi": "3.0.3")"), std::string::npos);
  for (const char* path :
       {"/v1/jobs", "/v1/jobs:run", "/v1/jobs/{id}", "/v1/jobs/{id}:cancel",
        "/v1/jobs/{id}/result", "/v1/jobs/{id}/events", "/healthz", "/readyz",
        "/metrics"}) {
    EXPECT_NE(doc.body.find("\"" + std::string(path) + "\": {"),
              std::string::npos)
        << path;
  }
  // DELETE /v1/jobs/{id} sits under its path, after get.
  const std::size_t job_path = doc.body.find("\"/v1/jobs/{id}\": {");
  EXPECT_LT(doc.body.find("\"delete\": {", job_path),
            doc.body.find("\"/v1/jobs/{id}:cancel\": {"));
}

TEST_F(RestTest, HeadAnswersHeadersWithoutABody) {
  HttpReply reply = client().Send(http::verb::head, "/healthz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("Content-Length"), "3");
  EXPECT_TRUE(reply.body.empty());
  // The connection is still in step: the next answer is the right one.
  EXPECT_EQ(client().Get("/healthz").body, "ok\n");
}

TEST_F(RestTest, MetricsAreServedInPrometheusText) {
  ASSERT_EQ(client().Get("/healthz").status, 200);
  HttpReply metrics = client().Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.Header("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("# TYPE impulse_http_requests_total counter"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("impulse_http_requests_total{route=\"/healthz\","
                              "status=\"200\"} 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("impulse_http_request_duration_seconds_bucket{"
                              "route=\"/healthz\",le=\"+Inf\"} 1"),
            std::string::npos);
  EXPECT_EQ(Metric("impulse_http_connections_open"), 1);
}

TEST_F(RestTest, MetricsTextHookComesFirst) {
  ServerOptions options = DefaultOptions();
  options.http.metrics_text = [] {
    return std::string("# TYPE impulse_custom gauge\nimpulse_custom 42\n");
  };
  StartServer(options);
  HttpReply metrics = client().Get("/metrics");
  EXPECT_EQ(metrics.body.rfind("# TYPE impulse_custom gauge\n", 0), 0u);
  EXPECT_EQ(Metric("impulse_custom"), 42);
  EXPECT_NE(metrics.body.find("impulse_http_connections_total"),
            std::string::npos);
}

TEST_F(RestTest, RequestAndStreamHooksSeeEveryRequest) {
  struct Seen {
    std::mutex mu;
    std::vector<std::pair<std::string, int>> requests;
    std::atomic<int> streams{0};
    std::atomic<int> streams_ever{0};
  };
  auto seen = std::make_shared<Seen>();
  ServerOptions options = DefaultOptions();
  options.http.on_request = [seen](std::string_view route, int status,
                                   double seconds) {
    EXPECT_GE(seconds, 0.0);
    std::lock_guard lock(seen->mu);
    seen->requests.emplace_back(std::string(route), status);
  };
  options.http.on_stream = [seen](int delta) {
    seen->streams += delta;
    if (delta > 0) ++seen->streams_ever;
  };
  StartServer(options);
  ASSERT_EQ(client().Get("/healthz").status, 200);
  ASSERT_EQ(client().Get("/v1/jobs/j-none").status, 404);
  v1::Job job = Submit(kPiJson);
  ASSERT_TRUE(WatchToEnd(job.id()).complete);
  // A request is counted once its answer is written, so the last ones may
  // still be on their way.
  auto seen_requests = [&seen] {
    std::lock_guard lock(seen->mu);
    return std::multiset<std::pair<std::string, int>>(seen->requests.begin(),
                                                      seen->requests.end());
  };
  const auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (seen_requests().size() < 4 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(seen_requests(), (std::multiset<std::pair<std::string, int>>{
                                 {"/healthz", 200},
                                 {"/v1/jobs/{id}", 404},
                                 {"/v1/jobs", 200},
                                 {"/v1/jobs/{id}/events", 200}}));
  EXPECT_EQ(seen->streams_ever.load(), 1);
  // The registry owns the request families now; the gateway keeps its own.
  HttpReply metrics = client().Get("/metrics");
  EXPECT_EQ(metrics.body.find("impulse_http_requests_total"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("impulse_http_connections_open"),
            std::string::npos);
  // The stream's -1 comes as its coroutine ends, just after the last byte.
  while (seen->streams.load() != 0 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(seen->streams.load(), 0);
}

TEST_F(RestTest, ReadyzIs503WithRetryAfterWhenNotReady) {
  ServerOptions options = DefaultOptions();
  options.http.ready = [] { return false; };
  StartServer(options);
  HttpReply ready = client().Get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.Header("Retry-After"), "1");
  EXPECT_EQ(client().Get("/healthz").status, 200);  // alive all the same
}

// -------------------------------------------------------------------- jobs

TEST_F(RestTest, SubmitGetAndResultOfAPiJob) {
  HttpReply submitted = client().Post("/v1/jobs", kPiJson);
  ASSERT_EQ(submitted.status, 200) << submitted.body;
  EXPECT_EQ(submitted.Header("Content-Type"), "application/json");
  v1::Job job = ParseJson<v1::Job>(submitted.body);
  EXPECT_TRUE(job.id().starts_with("j-")) << job.id();
  EXPECT_EQ(job.spec().pi().samples(), 1'000'001u);

  SseReply events = WatchToEnd(job.id());
  ASSERT_TRUE(events.complete);

  v1::Job done = GetJob(job.id());
  EXPECT_EQ(done.state(), v1::SUCCEEDED);
  EXPECT_EQ(done.placed_on(), v1::CPU);
  EXPECT_DOUBLE_EQ(done.progress(), 1.0);
  auto record = server_->manager().Find(job.id());
  ASSERT_TRUE(record.ok());
  const v1::JobResult& expected = *record.value()->result();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(done.result(),
                                                                 expected));

  HttpReply result = client().Get("/v1/jobs/" + job.id() + "/result");
  ASSERT_EQ(result.status, 200) << result.body;
  v1::JobResult parsed = ParseJson<v1::JobResult>(result.body);
  EXPECT_EQ(parsed.pi().samples(), 1'000'001u);
  EXPECT_EQ(parsed.pi().hits(), expected.pi().hits());
  EXPECT_NEAR(parsed.pi().estimate(), 3.14159, 0.01);
}

TEST_F(RestTest, LargeParticlesResultIsStreamedInChunks) {
  ServerOptions options = DefaultOptions();
  options.http.result_chunk_bytes = 64 << 10;
  StartServer(options);
  v1::Job job = Submit(
      R"({"particles": {"randomParticles": 20000, "tEnd": 0.0001,
                        "seed": "3"}, "device": "CPU"})");
  ASSERT_TRUE(WatchToEnd(job.id()).complete);

  HttpReply result = client().Get("/v1/jobs/" + job.id() + "/result");
  ASSERT_EQ(result.status, 200);
  EXPECT_EQ(result.Header("Transfer-Encoding"), "chunked");
  v1::JobResult parsed = ParseJson<v1::JobResult>(result.body);
  auto record = server_->manager().Find(job.id());
  ASSERT_TRUE(record.ok());
  const v1::JobResult& expected = *record.value()->result();
  ASSERT_EQ(parsed.particles().x_size(), 20000);
  EXPECT_EQ(parsed.particles().steps(), 10u);
  // Every double survives the JSON round trip exactly.
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(parsed, expected));
  // The connection carries on after a chunked answer.
  EXPECT_EQ(client().Get("/healthz").status, 200);
}

TEST_F(RestTest, ResultOfAnUnfinishedJobIs412) {
  v1::Job job = Submit(LongParticlesJson());
  HttpReply result = client().Get("/v1/jobs/" + job.id() + "/result");
  EXPECT_EQ(result.status, 412);
  EXPECT_EQ(ErrorOf(result.body).code, "FAILED_PRECONDITION");
  EXPECT_EQ(client().Post("/v1/jobs/" + job.id() + ":cancel").status, 200);
}

TEST_F(RestTest, ListFiltersByStateAndLabelAndPages) {
  std::vector<std::string> blue;
  for (const char* team : {"blue", "red", "blue"}) {
    v1::Job job = Submit(std::string(R"({"pi": {"samples": "1000"},
                                         "labels": {"team": ")") +
                         team + R"("}})");
    ASSERT_TRUE(WatchToEnd(job.id()).complete);
    if (std::string(team) == "blue") blue.push_back(job.id());
  }

  HttpReply reply = client().Get("/v1/jobs?label=team:blue");
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto page = ParseJson<v1::ListJobsResponse>(reply.body);
  ASSERT_EQ(page.jobs_size(), 2);
  EXPECT_EQ(page.jobs(0).id(), blue[1]);  // newest first
  EXPECT_EQ(page.jobs(1).id(), blue[0]);

  reply = client().Get("/v1/jobs?label=team%3Ared&state=succeeded");
  page = ParseJson<v1::ListJobsResponse>(reply.body);
  ASSERT_EQ(page.jobs_size(), 1);
  EXPECT_EQ(page.jobs(0).spec().labels().at("team"), "red");

  reply = client().Get("/v1/jobs?state=RUNNING");
  EXPECT_NE(reply.body.find(R"("jobs":[])"), std::string::npos) << reply.body;

  reply = client().Get("/v1/jobs?label=team:blue&page_size=1");
  page = ParseJson<v1::ListJobsResponse>(reply.body);
  ASSERT_EQ(page.jobs_size(), 1);
  EXPECT_EQ(page.jobs(0).id(), blue[1]);
  ASSERT_FALSE(page.next_page_token().empty());
  reply = client().Get("/v1/jobs?label=team:blue&page_size=1&page_token=" +
                       page.next_page_token());
  page = ParseJson<v1::ListJobsResponse>(reply.body);
  ASSERT_EQ(page.jobs_size(), 1);
  EXPECT_EQ(page.jobs(0).id(), blue[0]);
  EXPECT_TRUE(page.next_page_token().empty());
}

TEST_F(RestTest, ListRejectsBadParametersNamingThem) {
  struct Case {
    std::string query;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{{"state=SLEEPING", "state"},
                                         {"page_size=ten", "page_size"},
                                         {"page_size=-1", "page_size"},
                                         {"label=nocolon", "label"},
                                         {"page_token=zzz", "page_token"},
                                         {"colour=blue", "colour"},
                                         {"label=%zz", "query"}}) {
    HttpReply reply = client().Get("/v1/jobs?" + c.query);
    EXPECT_EQ(reply.status, 400) << c.query << ": " << reply.body;
    EXPECT_EQ(ErrorOf(reply.body).field, c.field) << c.query;
    EXPECT_EQ(ErrorOf(reply.body).code, "INVALID_ARGUMENT");
  }
}

TEST_F(RestTest, CancelEndsARunningJobAndItsEventStream) {
  v1::Job job = Submit(LongParticlesJson());
  WaitForState(job.id(), v1::RUNNING);
  HttpReply cancelled = client().Post("/v1/jobs/" + job.id() + ":cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(ParseJson<v1::Job>(cancelled.body).id(), job.id());

  SseReply events = WatchToEnd(job.id());
  ASSERT_TRUE(events.complete);
  std::vector<v1::JobEvent> decoded = Decode(events.events);
  ASSERT_FALSE(decoded.empty());
  EXPECT_EQ(decoded.back().state(), v1::CANCELLED);
  EXPECT_EQ(GetJob(job.id()).state(), v1::CANCELLED);

  // Cancelling a finished job answers it unchanged.
  HttpReply again = client().Post("/v1/jobs/" + job.id() + ":cancel");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(ParseJson<v1::Job>(again.body).state(), v1::CANCELLED);
}

TEST_F(RestTest, DeleteRemovesAFinishedJobAndRefusesAnUnfinishedOne) {
  v1::Job running = Submit(LongParticlesJson());
  WaitForState(running.id(), v1::RUNNING);
  HttpReply refused =
      client().Send(http::verb::delete_, "/v1/jobs/" + running.id());
  EXPECT_EQ(refused.status, 412) << refused.body;
  ErrorBody error = ErrorOf(refused.body);
  EXPECT_EQ(error.code, "FAILED_PRECONDITION");
  EXPECT_EQ(error.field, "id");
  EXPECT_NE(error.message.find("cancel it first"), std::string::npos)
      << error.message;

  ASSERT_EQ(client().Post("/v1/jobs/" + running.id() + ":cancel").status, 200);
  WaitForState(running.id(), v1::CANCELLED);
  HttpReply deleted =
      client().Send(http::verb::delete_, "/v1/jobs/" + running.id());
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  v1::Job job = ParseJson<v1::Job>(deleted.body);
  EXPECT_EQ(job.id(), running.id());
  EXPECT_EQ(job.state(), v1::CANCELLED);

  EXPECT_EQ(client().Get("/v1/jobs/" + running.id()).status, 404);
  EXPECT_EQ(client().Get("/v1/jobs/" + running.id() + "/events").status, 404);
  HttpReply again =
      client().Send(http::verb::delete_, "/v1/jobs/" + running.id());
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(ErrorOf(again.body).code, "NOT_FOUND");
}

TEST_F(RestTest, ATimeoutInTheSpecFailsTheJobWithDeadlineExceeded) {
  v1::Job job =
      Submit(R"({"particles": {"randomParticles": 100000, "tEnd": 100},
                          "device": "CPU", "timeout": "0.2s"})");
  EXPECT_EQ(job.spec().timeout().nanos(), 200'000'000);
  SseReply events = WatchToEnd(job.id());
  ASSERT_TRUE(events.complete);
  std::vector<v1::JobEvent> decoded = Decode(events.events);
  ASSERT_FALSE(decoded.empty());
  EXPECT_EQ(decoded.back().state(), v1::FAILED);
  EXPECT_EQ(decoded.back().error().code(), "DEADLINE_EXCEEDED");
  HttpReply bad = client().Post(
      "/v1/jobs", R"({"pi": {"samples": "1000"}, "timeout": "-3s"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ErrorOf(bad.body).field, "spec.timeout");
}

TEST_F(RestTest, RunSubmitsAndStreamsToTheEnd) {
  HttpConnection connection(port());
  SseReply run = connection.PostEvents("/v1/jobs:run", kPiJson);
  EXPECT_EQ(run.status, 200);
  ASSERT_TRUE(run.complete);
  std::vector<v1::JobEvent> events = Decode(run.events);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.front().state(), v1::QUEUED);
  EXPECT_EQ(events.back().state(), v1::SUCCEEDED);

  HttpReply bad = connection.Post("/v1/jobs:run", R"({"pi": {}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ErrorOf(bad.body).field, "spec.pi.samples");
}

// --------------------------------------------------------- server-sent events

TEST_F(RestTest, EventsAreServerSentEventsEndingWithTheTerminalOne) {
  v1::Job job = Submit(R"({"pi": {"samples": "300000000", "seed": "1"}})");
  SseReply events = WatchToEnd(job.id());
  EXPECT_EQ(events.status, 200);
  EXPECT_EQ(events.headers["Content-Type"], "text/event-stream");
  EXPECT_EQ(events.headers["Cache-Control"], "no-cache");
  ASSERT_TRUE(events.complete);
  ASSERT_GE(events.events.size(), 3u);

  std::uint64_t previous = 0;
  for (const SseEvent& e : events.events) {
    v1::JobEvent decoded = ParseJson<v1::JobEvent>(e.data);
    EXPECT_EQ(e.id, std::to_string(decoded.seq()));
    EXPECT_GT(decoded.seq(), previous);
    previous = decoded.seq();
    EXPECT_EQ(decoded.job_id(), job.id());
    EXPECT_EQ(e.event,
              decoded.type() == v1::PROGRESS ? "progress" : "state_changed");
  }
  std::vector<v1::JobEvent> decoded = Decode(events.events);
  EXPECT_EQ(decoded.front().state(), v1::QUEUED);
  EXPECT_TRUE(IsTerminal(decoded.back()));
  EXPECT_EQ(decoded.back().state(), v1::SUCCEEDED);
  EXPECT_EQ(std::to_string(GetJob(job.id()).last_seq()),
            events.events.back().id);
}

TEST_F(RestTest, EventsResumeAfterLastEventIdOrAfterSeq) {
  v1::Job job = Submit(R"({"pi": {"samples": "300000000", "seed": "2"}})");
  ASSERT_TRUE(WatchToEnd(job.id()).complete);
  // The finished job's log (progress events coalesced while it ran, so a
  // live watcher may have seen progress events that were later replaced).
  SseReply all = WatchToEnd(job.id());
  ASSERT_TRUE(all.complete);
  ASSERT_GE(all.events.size(), 3u);
  auto ids = [](const SseReply& reply) {
    std::vector<std::string> out;
    for (const SseEvent& e : reply.events) out.push_back(e.id);
    return out;
  };
  const std::vector<std::string> every = ids(all);
  for (std::size_t k : {std::size_t{0}, every.size() / 2, every.size() - 2}) {
    const std::vector<std::string> expected(every.begin() + k + 1, every.end());
    SseReply resumed = WatchToEnd(job.id(), {{"Last-Event-ID", every[k]}});
    EXPECT_TRUE(resumed.complete);
    EXPECT_EQ(ids(resumed), expected) << "Last-Event-ID " << every[k];
    resumed = WatchToEnd(job.id(), {}, "?after_seq=" + every[k]);
    EXPECT_EQ(ids(resumed), expected) << "after_seq " << every[k];
    // Both given: the later point wins (a reconnecting EventSource keeps
    // the URL's after_seq and adds Last-Event-ID).
    resumed =
        WatchToEnd(job.id(), {{"Last-Event-ID", every[k]}}, "?after_seq=0");
    EXPECT_EQ(ids(resumed), expected);
  }
}

TEST_F(RestTest, EventsOfAFinishedJobAfterItsLastEventAre204) {
  v1::Job job = Submit(kPiJson);
  SseReply all = WatchToEnd(job.id());
  ASSERT_TRUE(all.complete);
  HttpReply reply = client().Get("/v1/jobs/" + job.id() + "/events",
                                 {{"Last-Event-ID", all.events.back().id}});
  EXPECT_EQ(reply.status, 204);  // an EventSource stops reconnecting
  EXPECT_TRUE(reply.body.empty());
  EXPECT_TRUE(reply.Header("Content-Length").empty());
  EXPECT_EQ(client().Get("/healthz").status, 200);
}

TEST_F(RestTest, EventsRejectBadResumePointsAndUnknownJobs) {
  v1::Job job = Submit(kPiJson);
  const std::string events = "/v1/jobs/" + job.id() + "/events";
  HttpReply reply = client().Get(events, {{"Last-Event-ID", "abc"}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(ErrorOf(reply.body).field, "Last-Event-ID");
  reply = client().Get(events + "?after_seq=-3");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(ErrorOf(reply.body).field, "after_seq");
  reply = client().Get(events + "?since=3");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(ErrorOf(reply.body).field, "since");
  reply = client().Get("/v1/jobs/j-doesnotexist/events");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(ErrorOf(reply.body).code, "NOT_FOUND");
}

TEST_F(RestTest, EventsResumeOnALiveJobAfterReconnecting) {
  v1::Job job = Submit(LongParticlesJson());
  auto at_least = [](std::size_t n) {
    return [n](const SseReply& r) { return r.events.size() >= n; };
  };
  std::string last_seen;
  {
    HttpConnection first(port());
    SseReply part =
        first.Events("/v1/jobs/" + job.id() + "/events", {}, at_least(3));
    ASSERT_GE(part.events.size(), 3u);
    last_seen = part.events.back().id;
    first.Close();  // the client drops mid-stream
  }
  HttpConnection second(port());
  SseReply resumed = second.Events("/v1/jobs/" + job.id() + "/events",
                                   {{"Last-Event-ID", last_seen}}, at_least(1));
  ASSERT_FALSE(resumed.events.empty());
  EXPECT_GT(std::stoull(resumed.events.front().id), std::stoull(last_seen));

  ASSERT_EQ(client().Post("/v1/jobs/" + job.id() + ":cancel").status, 200);
  SseReply rest = WatchToEnd(job.id(), {{"Last-Event-ID", last_seen}});
  ASSERT_TRUE(rest.complete);
  for (const SseEvent& e : rest.events) {
    EXPECT_GT(std::stoull(e.id), std::stoull(last_seen));
  }
  EXPECT_EQ(Decode(rest.events).back().state(), v1::CANCELLED);
}

TEST_F(RestTest, AClientThatLeavesAnEventStreamIsNoticedAtOnce) {
  v1::Job job = Submit(LongParticlesJson());
  WaitForState(job.id(), v1::RUNNING);
  {
    HttpConnection watcher(port());
    SseReply part =
        watcher.Events("/v1/jobs/" + job.id() + "/events", {},
                       [](const SseReply& r) { return !r.events.empty(); });
    ASSERT_FALSE(part.events.empty());
    EXPECT_EQ(Metric("impulse_http_sse_streams_active"), 1);
    watcher.Close();
  }
  // The job keeps running (so no event would end the stream); the read
  // beside the stream sees the close and the coroutine ends.
  const auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while ((Metric("impulse_http_sse_streams_active") != 0 ||
          Metric("impulse_http_connections_open") != 1) &&
         steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(Metric("impulse_http_sse_streams_active"), 0);
  EXPECT_EQ(Metric("impulse_http_connections_open"), 1);  // ours only
  EXPECT_EQ(GetJob(job.id()).state(), v1::RUNNING);
  client().Post("/v1/jobs/" + job.id() + ":cancel");
}

TEST_F(RestTest, QuietStreamsGetHeartbeats) {
  ServerOptions options = DefaultOptions();
  options.http.sse_heartbeat = milliseconds(100);
  options.manager.scheduler.max_running = 1;
  StartServer(options);
  v1::Job blocker = Submit(LongParticlesJson());
  WaitForState(blocker.id(), v1::RUNNING);
  v1::Job waiting = Submit(kPiJson);  // stays QUEUED behind the blocker
  HttpConnection watcher(port());
  SseReply quiet =
      watcher.Events("/v1/jobs/" + waiting.id() + "/events", {},
                     [](const SseReply& r) { return r.heartbeats >= 2; });
  EXPECT_GE(quiet.heartbeats, 2);
  EXPECT_NE(quiet.body.find(": keep-alive\n\n"), std::string::npos);
  ASSERT_EQ(quiet.events.size(), 1u);
  EXPECT_EQ(Decode(quiet.events).front().state(), v1::QUEUED);
  client().Post("/v1/jobs/" + waiting.id() + ":cancel");
  client().Post("/v1/jobs/" + blocker.id() + ":cancel");
}

TEST_F(RestTest, ShutdownSendsTheLastEventAndClosesStreams) {
  v1::Job job = Submit(LongParticlesJson());
  HttpConnection watcher(port());
  SseReply part =
      watcher.Events("/v1/jobs/" + job.id() + "/events", {},
                     [](const SseReply& r) { return r.events.size() >= 2; });
  ASSERT_GE(part.events.size(), 2u);
  std::thread stopper([this] { server_->Shutdown(milliseconds(0)); });
  auto [rest, closed] = watcher.ReadUntilClosed(std::chrono::seconds(10));
  stopper.join();
  EXPECT_TRUE(closed);
  EXPECT_NE(rest.find("this server is shutting down"), std::string::npos);
}

// ------------------------------------------------------------ error mapping

TEST_F(RestTest, BadSpecIs400NamingTheField) {
  HttpReply reply = client().Post("/v1/jobs", R"({"pi": {"samples": "0"}})");
  EXPECT_EQ(reply.status, 400);
  ErrorBody error = ErrorOf(reply.body);
  EXPECT_EQ(error.code, "INVALID_ARGUMENT");
  EXPECT_EQ(error.field, "spec.pi.samples");
  EXPECT_FALSE(error.message.empty());

  reply = client().Post("/v1/jobs", R"({"priority": 1})");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(ErrorOf(reply.body).field, "spec.kind");
}

TEST_F(RestTest, UnknownJsonFieldIs400NamingIt) {
  HttpReply reply = client().Post("/v1/jobs", R"({"pi": {"samplez": "5"}})");
  EXPECT_EQ(reply.status, 400);
  ErrorBody error = ErrorOf(reply.body);
  EXPECT_EQ(error.field, "spec.pi.samplez");
  EXPECT_EQ(error.message, "unknown field");

  reply = client().Post("/v1/jobs", R"({"pi": {"samples": "5"}, "gpu": 1})");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(ErrorOf(reply.body).field, "spec.gpu");
}

TEST_F(RestTest, MalformedJsonIs400SayingWhy) {
  for (const char* body :
       {R"({"pi": )", "not json", "[1, 2]", R"({"pi": {"samples": "abc"}})",
        R"({"device": "TPU", "pi": {"samples": "5"}})"}) {
    HttpReply reply = client().Post("/v1/jobs", body);
    EXPECT_EQ(reply.status, 400) << body;
    ErrorBody error = ErrorOf(reply.body);
    EXPECT_EQ(error.code, "INVALID_ARGUMENT") << body;
    EXPECT_FALSE(error.message.empty()) << body;
    EXPECT_TRUE(error.field.starts_with("spec")) << error.field;
  }
  HttpReply reply = client().Post("/v1/jobs", R"({"pi": {"samples": "abc"}})");
  EXPECT_EQ(ErrorOf(reply.body).field, "spec.pi.samples");
  reply = client().Post("/v1/jobs", R"({"pi": )");
  EXPECT_NE(ErrorOf(reply.body).message.find("JSON"), std::string::npos);
}

TEST_F(RestTest, EmptyBodyIs400) {
  HttpReply reply = client().Post("/v1/jobs", "");
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(ErrorOf(reply.body).message.find("empty"), std::string::npos);
}

TEST_F(RestTest, UnknownJobAndUnknownRouteAre404) {
  HttpReply reply = client().Get("/v1/jobs/j-0000000000000000");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(ErrorOf(reply.body).code, "NOT_FOUND");
  EXPECT_EQ(ErrorOf(reply.body).field, "id");
  for (const char* target : {"/v2/jobs", "/v1", "/v1/jobs/", "/v1/jobs/x/y",
                             "/v1/jobs/x:pause", "/v1/jobs/:cancel"}) {
    reply = client().Get(target);
    EXPECT_EQ(reply.status, 404) << target;
    EXPECT_EQ(ErrorOf(reply.body).code, "NOT_FOUND");
  }
  EXPECT_EQ(client().Post("/v1/jobs/j-0000000000000000:cancel").status, 404);
  EXPECT_EQ(client().Get("/v1/jobs/j-0000000000000000/result").status, 404);
}

TEST_F(RestTest, WrongMethodIs405WithAllow) {
  HttpReply reply = client().Send(http::verb::delete_, "/v1/jobs");
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.Header("Allow"), "GET, HEAD, POST");
  EXPECT_EQ(ErrorOf(reply.body).code, "METHOD_NOT_ALLOWED");
  reply = client().Get("/v1/jobs/j-1:cancel");
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.Header("Allow"), "POST");
  EXPECT_EQ(client().Post("/healthz").status, 405);
  EXPECT_EQ(client().Post("/v1/jobs/j-1/events").status, 405);
  EXPECT_EQ(client().Send(http::verb::put, "/v1/jobs/j-1").status, 405);
}

TEST_F(RestTest, ReusedIdempotencyKeyWithAnotherSpecIs409) {
  v1::Job first =
      Submit(R"({"pi": {"samples": "1000"}, "idempotencyKey": "order-17"})");
  // The same spec again: the same job.
  v1::Job again =
      Submit(R"({"pi": {"samples": "1000"}, "idempotencyKey": "order-17"})");
  EXPECT_EQ(again.id(), first.id());
  HttpReply conflict = client().Post(
      "/v1/jobs",
      R"({"pi": {"samples": "2000"}, "idempotencyKey": "order-17"})");
  EXPECT_EQ(conflict.status, 409);
  ErrorBody error = ErrorOf(conflict.body);
  EXPECT_EQ(error.code, "ALREADY_EXISTS");
  EXPECT_EQ(error.field, "spec.idempotency_key");
}

TEST_F(RestTest, GpuWithoutAGpuIs412) {
  HttpReply reply = client().Post(
      "/v1/jobs", R"({"pi": {"samples": "1000"}, "device": "GPU"})");
  EXPECT_EQ(reply.status, 412);
  ErrorBody error = ErrorOf(reply.body);
  EXPECT_EQ(error.code, "FAILED_PRECONDITION");
  EXPECT_EQ(error.field, "spec.device");
  EXPECT_TRUE(reply.Header("Retry-After").empty());
}

TEST_F(RestTest, FullQueueIs429WithRetryAfter) {
  ServerOptions options = DefaultOptions();
  options.manager.scheduler.max_running = 1;
  options.manager.scheduler.max_queued = 1;
  StartServer(options);
  v1::Job running = Submit(LongParticlesJson());
  WaitForState(running.id(), v1::RUNNING);
  v1::Job queued = Submit(LongParticlesJson());
  EXPECT_EQ(queued.state(), v1::QUEUED);
  HttpReply full = client().Post("/v1/jobs", LongParticlesJson());
  EXPECT_EQ(full.status, 429);
  EXPECT_EQ(full.Header("Retry-After"), "1");
  EXPECT_EQ(ErrorOf(full.body).code, "RESOURCE_EXHAUSTED");
  client().Post("/v1/jobs/" + queued.id() + ":cancel");
  client().Post("/v1/jobs/" + running.id() + ":cancel");
}

// ------------------------------------------------------------------- limits

TEST_F(RestTest, OversizedBodyIs413AndTheServerCarriesOn) {
  ServerOptions options = DefaultOptions();
  options.http.max_body_bytes = 64 << 10;
  StartServer(options);
  const std::string body((64 << 10) + 1, ' ');
  HttpConnection sender(port());
  const std::string answer =
      sender.SendRaw("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413 ")) << answer;
  EXPECT_NE(answer.find("PAYLOAD_TOO_LARGE"), std::string::npos);
  EXPECT_NE(answer.find("Connection: close"), std::string::npos);
  // Two bytes over: refused, even from a well-behaved client.
  HttpReply over = HttpConnection(port()).Post(
      "/v1/jobs", std::string(64 << 10, ' ') + "{}");
  EXPECT_EQ(over.status, 413);
  EXPECT_FALSE(over.keep_alive);
  // Exactly at the limit: read and parsed (then refused for having no kind).
  HttpReply fits = HttpConnection(port()).Post(
      "/v1/jobs", std::string((64 << 10) - 2, ' ') + "{}");
  EXPECT_EQ(fits.status, 400);
  EXPECT_EQ(ErrorOf(fits.body).field, "spec.kind");
  EXPECT_EQ(HttpConnection(port()).Get("/healthz").status, 200);
}

TEST_F(RestTest, DefaultBodyLimitIs16MiBCheckedBeforeTheBodyArrives) {
  HttpConnection sender(port());
  // Only the head is sent: the declared length alone is refused.
  const std::string answer = sender.SendRaw(
      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 16777217\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413 ")) << answer;
}

TEST_F(RestTest, OversizedChunkedBodyIs413) {
  ServerOptions options = DefaultOptions();
  options.http.max_body_bytes = 64 << 10;
  StartServer(options);
  const std::string chunk(70000, 'a');  // 0x11170 bytes
  HttpConnection sender(port());
  const std::string answer = sender.SendRaw(
      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "11170\r\n" +
      chunk + "\r\n0\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413 ")) << answer;
}

TEST_F(RestTest, OversizedHeadersAre431) {
  HttpReply reply =
      client().Get("/healthz", {{"X-Padding", std::string(9000, 'p')}});
  EXPECT_EQ(reply.status, 431);
  EXPECT_EQ(ErrorOf(reply.body).code, "HEADERS_TOO_LARGE");
  EXPECT_EQ(HttpConnection(port()).Get("/healthz").status, 200);
}

TEST_F(RestTest, ExpectContinueGets100ThenTheAnswer) {
  const std::string body = kPiJson;
  HttpConnection sender(port());
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(sender.SendRaw("POST /v1/jobs HTTP/1.1\r\nHost: x\r\n"
                           "Expect: 100-continue\r\nConnection: close\r\n"
                           "Content-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n",
                           interim.size()),
            interim);
  const std::string answer = sender.SendRaw(body);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 ")) << answer;
  EXPECT_NE(answer.find("\"id\":\"j-"), std::string::npos);
}

TEST_F(RestTest, MalformedRequestIs400AndOthersAreServed) {
  for (const char* garbage :
       {"GARBAGE\r\n\r\n", "GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
        "POST /v1/jobs HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "GET nothing-like-a-path HTTP/1.1\r\nConnection: close\r\n\r\n"}) {
    HttpConnection sender(port());
    const std::string answer = sender.SendRaw(garbage);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << garbage << answer;
  }
  HttpConnection future(port());
  EXPECT_TRUE(future.SendRaw("GET /healthz HTTP/9.9\r\n\r\n")
                  .starts_with("HTTP/1.1 400 "));
  EXPECT_EQ(HttpConnection(port()).Get("/healthz").status, 200);
}

TEST_F(RestTest, SlowClientIsDisconnectedAfterTheReadTimeout) {
  ServerOptions options = DefaultOptions();
  options.http.read_timeout = milliseconds(300);
  StartServer(options);
  HttpConnection slow(port());
  slow.WriteRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finished
  const auto start = steady_clock::now();
  // Meanwhile the server answers everyone else.
  EXPECT_EQ(HttpConnection(port()).Get("/healthz").status, 200);
  auto [answer, closed] = slow.ReadUntilClosed(std::chrono::seconds(5));
  EXPECT_TRUE(closed);
  EXPECT_GE(steady_clock::now() - start, milliseconds(250));
}

TEST_F(RestTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions options = DefaultOptions();
  options.http.idle_timeout = milliseconds(300);
  StartServer(options);
  HttpConnection idle(port());
  EXPECT_EQ(idle.Get("/healthz").status, 200);
  auto [answer, closed] = idle.ReadUntilClosed(std::chrono::seconds(5));
  EXPECT_TRUE(closed);
  EXPECT_TRUE(answer.empty());
}

TEST_F(RestTest, KeepAliveServesManyRequestsOnOneConnection) {
  ASSERT_EQ(client().Get("/healthz").status, 200);
  const double accepted = Metric("impulse_http_connections_total");
  ASSERT_GE(accepted, 1);
  v1::Job job = Submit(kPiJson);
  for (int i = 0; i < 20; ++i) {
    HttpReply reply = client().Get("/v1/jobs/" + job.id());
    ASSERT_EQ(reply.status, 200);
    EXPECT_TRUE(reply.keep_alive);
  }
  // An error answer keeps the connection too.
  EXPECT_EQ(client().Get("/v1/jobs/nope").status, 404);
  EXPECT_EQ(client().Post("/v1/jobs", "{").status, 400);
  EXPECT_EQ(Metric("impulse_http_connections_total"), accepted);
}

TEST_F(RestTest, PipelinedRequestsAreAnsweredInOrder) {
  HttpConnection sender(port());
  const std::string answer = sender.SendRaw(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::size_t ok = answer.find("\r\n\r\nok\n");
  const std::size_t ready = answer.find("\r\n\r\nready\n");
  const std::size_t missing = answer.find("HTTP/1.1 404");
  ASSERT_NE(ok, std::string::npos) << answer;
  ASSERT_NE(ready, std::string::npos) << answer;
  ASSERT_NE(missing, std::string::npos) << answer;
  EXPECT_LT(ok, ready);
  EXPECT_LT(ready, missing);
}

TEST_F(RestTest, Http10RequestIsAnsweredAndClosed) {
  HttpConnection sender(port());
  const std::string answer = sender.SendRaw("GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.0 200 OK")) << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\nok\n")) << answer;
}

}  // namespace
}  // namespace impulse::testing
