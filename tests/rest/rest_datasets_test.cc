// The dataset, index and live-monitor routes of the REST gateway over real
// HTTP against a real in-process server with a data directory: streamed
// uploads (larger than the gateway's body limit), list/get/delete, index
// queries and autocomplete, and GET /v1/metrics/stream.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "tests/rest/rest_fixture.h"

namespace impulse::testing {
namespace {

namespace fs = std::filesystem;

std::string TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  static std::mt19937_64 rng{std::random_device{}()};
  fs::path dir = fs::path(base != nullptr ? base : "/tmp") /
                 ("impulse-rest-data-" + std::to_string(rng()));
  fs::create_directories(dir);
  return dir.string();
}

// The "field" of a JSON error body.
std::string ErrorField(const std::string& body) {
  const std::string key = "\"field\":\"";
  const std::size_t at = body.find(key);
  if (at == std::string::npos) return "";
  return body.substr(at + key.size(),
                     body.find('"', at + key.size()) - at - key.size());
}

constexpr std::uint64_t kMaxDataset = 1 << 20;

class RestDatasetsTest : public RestTest {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    ServerOptions options = DefaultOptions();
    options.manager.storage_dir = dir_;
    options.manager.max_dataset_bytes = kMaxDataset;
    options.http.max_body_bytes = 64 << 10;  // uploads may exceed it
    StartServer(std::move(options));
  }
  void TearDown() override {
    RestTest::TearDown();
    fs::remove_all(dir_);
  }

  HttpReply Put(const std::string& target, std::string body) {
    return client().Send(http::verb::put, target, std::move(body));
  }
  // An upload refused before its body is read closes its connection, so
  // those that may be refused go on a connection of their own.
  HttpReply PutOnce(const std::string& target, std::string body) {
    HttpConnection connection(port());
    return connection.Send(http::verb::put, target, std::move(body));
  }

  // Waits for a job submitted over REST to succeed.
  v1::Job RunJob(const std::string& spec_json) {
    v1::Job job = Submit(spec_json);
    return WaitForState(job.id(), v1::SUCCEEDED);
  }

  std::string dir_;
};

TEST_F(RestDatasetsTest, UploadListGetUseAndDelete) {
  const std::string text = "the cat\nThe dog and the cat\n";
  HttpReply put = Put("/v1/datasets/pets?format=text", text);
  ASSERT_EQ(put.status, 200) << put.body;
  const v1::Dataset stored = ParseJson<v1::Dataset>(put.body);
  EXPECT_EQ(stored.name(), "pets");
  EXPECT_EQ(stored.format(), v1::TEXT);
  EXPECT_EQ(stored.size_bytes(), text.size());
  EXPECT_EQ(stored.rows(), 2u);
  EXPECT_EQ(stored.sha256().size(), 64u);

  // The same content again is a no-op; other content is 409.
  EXPECT_EQ(Put("/v1/datasets/pets?format=text", text).status, 200);
  HttpReply taken = PutOnce("/v1/datasets/pets?format=text", "other\n");
  EXPECT_EQ(taken.status, 409) << taken.body;

  HttpReply list = client().Get("/v1/datasets");
  ASSERT_EQ(list.status, 200) << list.body;
  const auto listed = ParseJson<v1::ListDatasetsResponse>(list.body);
  ASSERT_EQ(listed.datasets_size(), 1);
  EXPECT_EQ(listed.datasets(0).sha256(), stored.sha256());
  HttpReply one = client().Get("/v1/datasets/pets");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(ParseJson<v1::Dataset>(one.body).rows(), 2u);

  const v1::Job job =
      RunJob(R"({"wordcount": {"dataset": "pets", "topK": 1}})");
  ASSERT_EQ(job.result().wordcount().words_size(), 1);
  EXPECT_EQ(job.result().wordcount().words(0).word(), "the");
  EXPECT_EQ(job.result().wordcount().words(0).count(), 3u);

  HttpReply removed = client().Send(http::verb::delete_, "/v1/datasets/pets");
  ASSERT_EQ(removed.status, 200) << removed.body;
  HttpReply gone = client().Get("/v1/datasets/pets");
  EXPECT_EQ(gone.status, 404) << gone.body;
  EXPECT_EQ(client().Send(http::verb::delete_, "/v1/datasets/pets").status,
            404);
}

TEST_F(RestDatasetsTest, ChunkedUploadLargerThanTheBodyLimitIsStreamed) {
  // 512 KiB of points in 16 KiB chunks: eight times the 64 KiB body limit.
  std::string points;
  for (int i = 0; points.size() < (512 << 10); ++i) {
    points += std::to_string(i % 1000) + "," + std::to_string(i % 7) + "\n";
  }
  std::string request =
      "PUT /v1/datasets/grid?format=points_csv HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (std::size_t at = 0; at < points.size(); at += 16 << 10) {
    const std::string chunk = points.substr(at, 16 << 10);
    request += fmt::format("{:x}\r\n{}\r\n", chunk.size(), chunk);
  }
  request += "0\r\n\r\n";
  HttpConnection raw(port());
  const std::string answer = raw.SendRaw(request);
  ASSERT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer.substr(0, 400);
  const v1::Dataset stored =
      ParseJson<v1::Dataset>(answer.substr(answer.find("\r\n\r\n") + 4));
  EXPECT_EQ(stored.size_bytes(), points.size());
  EXPECT_EQ(stored.dims(), 2u);
  EXPECT_EQ(stored.rows(), static_cast<std::uint64_t>(
                               std::count(points.begin(), points.end(), '\n')));
}

TEST_F(RestDatasetsTest, UploadErrorsNameTheParameterAndStoreNothing) {
  HttpReply no_format = PutOnce("/v1/datasets/a", "x\n");
  EXPECT_EQ(no_format.status, 400);
  EXPECT_EQ(ErrorField(no_format.body), "format") << no_format.body;
  HttpReply bad_format = PutOnce("/v1/datasets/a?format=xml", "x\n");
  EXPECT_EQ(bad_format.status, 400);
  EXPECT_EQ(ErrorField(bad_format.body), "format") << bad_format.body;
  HttpReply unknown = PutOnce("/v1/datasets/a?format=text&colour=red", "x\n");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(ErrorField(unknown.body), "colour") << unknown.body;
  HttpReply bad_name = PutOnce("/v1/datasets/..?format=text", "x\n");
  EXPECT_EQ(bad_name.status, 400);
  EXPECT_EQ(ErrorField(bad_name.body), "name") << bad_name.body;
  HttpReply no_dims = PutOnce("/v1/datasets/p?format=points_f64", "12345678");
  EXPECT_EQ(no_dims.status, 400);
  EXPECT_EQ(ErrorField(no_dims.body), "dims") << no_dims.body;
  HttpReply digest = PutOnce(
      "/v1/datasets/d?format=text&sha256=" + std::string(64, '0'), "x\n");
  EXPECT_EQ(digest.status, 400);
  EXPECT_EQ(ErrorField(digest.body), "sha256") << digest.body;
  HttpReply csv = PutOnce("/v1/datasets/t?format=points_csv", "1,2\n3,abc\n");
  EXPECT_EQ(csv.status, 400) << csv.body;
  EXPECT_NE(csv.body.find("row"), std::string::npos) << csv.body;

  // Over --max_dataset_bytes: 413 from the Content-Length, before the body.
  HttpConnection raw(port());
  const std::string answer = raw.SendRaw(
      "PUT /v1/datasets/big?format=text HTTP/1.1\r\nHost: x\r\n"
      "Content-Length: " +
      std::to_string(kMaxDataset + 1) + "\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 413")) << answer;

  // None of them left a dataset behind, and the server carries on.
  HttpReply list = client().Get("/v1/datasets");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(ParseJson<v1::ListDatasetsResponse>(list.body).datasets_size(), 0)
      << list.body;
  EXPECT_EQ(Put("/v1/datasets/ok?format=text", "fine\n").status, 200);
}

TEST_F(RestDatasetsTest, ExpectContinueIsRefusedBeforeTheBodyWhenBad) {
  HttpConnection raw(port(), std::chrono::seconds(5));
  const std::string answer = raw.SendRaw(
      "PUT /v1/datasets/a?format=nope HTTP/1.1\r\nHost: x\r\n"
      "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
  EXPECT_EQ(answer.find("100 Continue"), std::string::npos) << answer;
}

TEST_F(RestDatasetsTest, ExpectContinueGets100ThenStoresTheBody) {
  HttpConnection raw(port(), std::chrono::seconds(5));
  const std::string interim = raw.SendRaw(
      "PUT /v1/datasets/a?format=text HTTP/1.1\r\nHost: x\r\n"
      "Content-Length: 6\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
      /*stop_after=*/25);
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  const std::string answer = raw.SendRaw("hello\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer;
}

TEST_F(RestDatasetsTest, IndexQueryAndCompleteOverRest) {
  ASSERT_EQ(Put("/v1/datasets/docs?format=text",
                "apple banana\napple cherry\nbanana durian\napricot apple\n")
                .status,
            200);
  RunJob(R"({"index": {"dataset": "docs", "indexName": "fruit"}})");

  HttpReply query =
      client().Get("/v1/indexes/fruit:query?q=apple%20AND%20NOT%20cherry");
  ASSERT_EQ(query.status, 200) << query.body;
  const auto hits = ParseJson<v1::QueryResponse>(query.body);
  EXPECT_EQ(hits.total_matches(), 2u);
  ASSERT_EQ(hits.hits_size(), 2);
  EXPECT_EQ(hits.hits(0).doc(), 0u);
  EXPECT_EQ(hits.hits(1).doc(), 3u);
  HttpReply paged =
      client().Get("/v1/indexes/fruit:query?q=apple&offset=1&limit=1");
  ASSERT_EQ(paged.status, 200) << paged.body;
  EXPECT_EQ(ParseJson<v1::QueryResponse>(paged.body).hits_size(), 1);

  HttpReply complete = client().Get("/v1/indexes/fruit:complete?prefix=ap&n=5");
  ASSERT_EQ(complete.status, 200) << complete.body;
  const auto words = ParseJson<v1::CompleteResponse>(complete.body);
  ASSERT_EQ(words.completions_size(), 2);
  EXPECT_EQ(words.completions(0).word(), "apple");
  EXPECT_EQ(words.completions(0).count(), 3u);
  EXPECT_EQ(words.completions(1).word(), "apricot");

  HttpReply unknown = client().Get("/v1/indexes/veg:query?q=kale");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(ErrorField(unknown.body), "index_name") << unknown.body;
  HttpReply no_q = client().Get("/v1/indexes/fruit:query");
  EXPECT_EQ(no_q.status, 400);
  EXPECT_EQ(ErrorField(no_q.body), "q") << no_q.body;
  HttpReply big = client().Get("/v1/indexes/fruit:query?q=apple&limit=5000");
  EXPECT_EQ(big.status, 400);
  EXPECT_EQ(ErrorField(big.body), "limit") << big.body;
  HttpReply bad_n = client().Get("/v1/indexes/fruit:complete?n=-1");
  EXPECT_EQ(bad_n.status, 400);
  EXPECT_EQ(ErrorField(bad_n.body), "n") << bad_n.body;
  HttpReply syntax = client().Get("/v1/indexes/fruit:query?q=%28apple");
  EXPECT_EQ(syntax.status, 400) << syntax.body;
}

TEST_F(RestDatasetsTest, MetricsStreamSendsNumberedSamples) {
  HttpConnection watcher(port());
  SseReply reply =
      watcher.Events("/v1/metrics/stream?interval_ms=50&window=3", {},
                     [](const SseReply& r) { return r.events.size() >= 4; });
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers[http::field::content_type], "text/event-stream");
  ASSERT_GE(reply.events.size(), 4u);
  for (std::size_t i = 0; i < reply.events.size(); ++i) {
    const SseEvent& event = reply.events[i];
    EXPECT_EQ(event.event, "sample");
    EXPECT_EQ(event.id, std::to_string(i + 1));
    const auto sample = ParseJson<v1::MetricsSample>(event.data);
    EXPECT_EQ(sample.seq(), i + 1);
    EXPECT_GT(sample.core_load_size(), 0);
    EXPECT_EQ(sample.avg_core_load_size(), sample.core_load_size());
    EXPECT_GT(sample.mem_total_bytes(), 0u);
    EXPECT_GE(sample.total_load(), 0.0);
    EXPECT_LE(sample.total_load(), 1.0);
    EXPECT_EQ(sample.gpu_utilization(), -1.0);  // no GPU in this server
  }
  EXPECT_EQ(Metric("impulse_http_sse_streams_active"), 1);

  // A client that leaves is noticed within a few samples.
  watcher.Close();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Metric("impulse_http_sse_streams_active") != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Metric("impulse_http_sse_streams_active"), 0);
}

TEST_F(RestDatasetsTest, MetricsStreamRejectsBadParametersNamingThem) {
  for (const auto& [query, field] :
       std::vector<std::pair<std::string, std::string>>{
           {"interval_ms=10", "interval_ms"},
           {"interval_ms=fast", "interval_ms"},
           {"window=0x10", "window"},
           {"alert_threshold=high", "alert_threshold"},
           {"colour=red", "colour"}}) {
    HttpReply reply = client().Get("/v1/metrics/stream?" + query);
    EXPECT_EQ(reply.status, 400) << query;
    EXPECT_EQ(ErrorField(reply.body), field) << query << ": " << reply.body;
  }
  EXPECT_EQ(client().Post("/v1/metrics/stream", "").status, 405);
}

TEST_F(RestDatasetsTest, ShutdownEndsAnOpenMetricsStream) {
  HttpConnection watcher(port());
  SseReply first =
      watcher.Events("/v1/metrics/stream?interval_ms=50", {},
                     [](const SseReply& r) { return !r.events.empty(); });
  ASSERT_EQ(first.status, 200);
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown(std::chrono::milliseconds(100));
  const auto [rest, closed] = watcher.ReadUntilClosed(std::chrono::seconds(5));
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace impulse::testing
