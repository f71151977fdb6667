// Bearer tokens and tenant isolation against a real server on loopback:
// every gRPC method and every /v1/ REST route refuses a missing or wrong
// token, and one tenant can neither see nor touch another tenant's jobs,
// datasets, indexes, idempotency keys or cached results (answers are the
// NOT_FOUND an unknown name gets, so nothing leaks). Also the token file
// format and the loopback-only rule without tokens.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "server/edge/token_auth.h"
#include "server/impulse_server.h"
#include "tests/common/test_threads.h"
#include "tests/rest/http_client.h"

namespace impulse::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kAlice[] = "alice-token-0123456789";
constexpr char kAlice2[] = "alice-rotated-0123456789";
constexpr char kBob[] = "bob-token-0123456789abc";

std::string TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  static std::mt19937_64 rng{std::random_device{}()};
  fs::path dir = fs::path(base != nullptr ? base : "/tmp") /
                 ("impulse-auth-" + std::to_string(rng()));
  fs::create_directories(dir);
  return dir.string();
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    ServerOptions options;
    options.grpc_listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.use_gpu = false;
    options.manager.scheduler.cpu_threads = kTestCpuThreads;
    options.manager.storage_dir = dir_;
    auto auth = edge::TokenAuth::FromPairs(
        {{"alice", kAlice}, {"alice", kAlice2}, {"bob", kBob}});
    ASSERT_TRUE(auth.ok()) << auth.error().ToString();
    options.auth = auth.value();
    server_ = std::make_unique<ImpulseServer>(std::move(options));
    Status status = server_->Start();
    ASSERT_TRUE(status.ok()) << status.error().ToString();
    channel_ =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                            grpc::InsecureChannelCredentials());
    stub_ = v1::JobService::NewStub(channel_);
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  // A context carrying `token` ("" = none, anything else as given).
  static std::unique_ptr<grpc::ClientContext> As(const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty())
      context->AddMetadata("authorization", "Bearer " + token);
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(30));
    return context;
  }

  grpc::Status Submit(const std::string& token, const v1::JobSpec& spec,
                      v1::Job* job) {
    v1::SubmitRequest request;
    *request.mutable_spec() = spec;
    return stub_->Submit(As(token).get(), request, job);
  }
  v1::Job MustSubmit(const std::string& token, const v1::JobSpec& spec) {
    v1::Job job;
    grpc::Status status = Submit(token, spec, &job);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return job;
  }
  grpc::Status Get(const std::string& token, const std::string& id,
                   v1::Job* job) {
    v1::GetJobRequest request;
    request.set_id(id);
    return stub_->Get(As(token).get(), request, job);
  }
  // Watches to the end; returns the final status.
  grpc::Status Watch(const std::string& token, const std::string& id) {
    auto context = As(token);
    v1::WatchRequest request;
    request.set_id(id);
    auto reader = stub_->Watch(context.get(), request);
    v1::JobEvent event;
    while (reader->Read(&event)) {
    }
    return reader->Finish();
  }
  v1::Job WaitDone(const std::string& token, const std::string& id) {
    EXPECT_TRUE(Watch(token, id).ok());
    v1::Job job;
    EXPECT_TRUE(Get(token, id, &job).ok());
    return job;
  }
  grpc::Status Upload(const std::string& token, const std::string& name,
                      const std::string& content) {
    auto context = As(token);
    v1::Dataset answer;
    auto writer = stub_->UploadDataset(context.get(), &answer);
    v1::UploadDatasetRequest header;
    header.mutable_header()->set_name(name);
    header.mutable_header()->set_format(v1::TEXT);
    writer->Write(header);
    v1::UploadDatasetRequest chunk;
    chunk.set_chunk(content);
    chunk.set_last(true);
    writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }

  static v1::JobSpec Pi(std::uint64_t samples) {
    v1::JobSpec spec;
    spec.mutable_pi()->set_samples(samples);
    return spec;
  }
  static v1::JobSpec WordCount(const std::string& dataset) {
    v1::JobSpec spec;
    spec.mutable_wordcount()->set_dataset(dataset);
    return spec;
  }

  std::string dir_;
  std::unique_ptr<ImpulseServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> stub_;
};

TEST_F(AuthTest, EveryGrpcMethodRefusesAMissingOrUnknownToken) {
  for (const std::string token : {"", "not-a-known-token-at-all"}) {
    SCOPED_TRACE("token '" + token + "'");
    v1::Job job;
    EXPECT_EQ(Submit(token, Pi(1000), &job).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(Get(token, "j-1", &job).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    v1::ListJobsResponse list;
    EXPECT_EQ(stub_->List(As(token).get(), {}, &list).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    v1::CancelJobRequest cancel;
    EXPECT_EQ(stub_->Cancel(As(token).get(), cancel, &job).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    v1::DeleteJobRequest remove;
    EXPECT_EQ(stub_->Delete(As(token).get(), remove, &job).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(Watch(token, "j-1").error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    {
      auto context = As(token);
      v1::RunRequest run;
      *run.mutable_spec() = Pi(1000);
      auto reader = stub_->Run(context.get(), run);
      v1::JobEvent event;
      EXPECT_FALSE(reader->Read(&event));
      EXPECT_EQ(reader->Finish().error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
    }
    {
      v1::RunRequest run;
      *run.mutable_spec() = Pi(1000);
      EXPECT_EQ(stub_->Execute(As(token).get(), run, &job).error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
    }
    {
      auto context = As(token);
      v1::GetResultRequest request;
      auto reader = stub_->GetResult(context.get(), request);
      v1::ResultChunk chunk;
      EXPECT_FALSE(reader->Read(&chunk));
      EXPECT_EQ(reader->Finish().error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
    }
    EXPECT_EQ(Upload(token, "corpus", "a b\n").error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    v1::ListDatasetsResponse datasets;
    EXPECT_EQ(stub_->ListDatasets(As(token).get(), {}, &datasets).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    v1::Dataset dataset;
    EXPECT_EQ(stub_->DeleteDataset(As(token).get(), {}, &dataset).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    v1::QueryResponse hits;
    EXPECT_EQ(stub_->Query(As(token).get(), {}, &hits).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    v1::CompleteResponse words;
    EXPECT_EQ(stub_->Complete(As(token).get(), {}, &words).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    auto metrics = v1::MetricsService::NewStub(channel_);
    auto context = As(token);
    auto reader = metrics->WatchMetrics(context.get(), {});
    v1::MetricsSample sample;
    EXPECT_FALSE(reader->Read(&sample));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  // Not "Bearer <token>" at all.
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", std::string("Basic ") + kAlice);
  v1::Job job;
  EXPECT_EQ(stub_->Get(context.get(), {}, &job).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthTest, ATenantCannotSeeOrTouchAnotherTenantsJobs) {
  const v1::Job mine = MustSubmit(kAlice, Pi(1'000'000));
  EXPECT_EQ(mine.tenant(), "alice");
  WaitDone(kAlice, mine.id());

  // Bob gets exactly what an unknown id gets.
  v1::Job job;
  const grpc::Status unknown = Get(kBob, "j-0000000000000000", &job);
  const grpc::Status other = Get(kBob, mine.id(), &job);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::NOT_FOUND);
  std::string expected = unknown.error_message();
  expected.replace(expected.find("j-0000000000000000"), 18, mine.id());
  EXPECT_EQ(other.error_message(), expected);
  EXPECT_EQ(Watch(kBob, mine.id()).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::CancelJobRequest cancel;
  cancel.set_id(mine.id());
  EXPECT_EQ(stub_->Cancel(As(kBob).get(), cancel, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::DeleteJobRequest remove;
  remove.set_id(mine.id());
  EXPECT_EQ(stub_->Delete(As(kBob).get(), remove, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Get(kAlice, mine.id(), &job).ok()) << "Bob deleted it";
  {
    auto context = As(kBob);
    v1::GetResultRequest request;
    request.set_id(mine.id());
    auto reader = stub_->GetResult(context.get(), request);
    v1::ResultChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
  v1::ListJobsResponse bobs;
  ASSERT_TRUE(stub_->List(As(kBob).get(), {}, &bobs).ok());
  EXPECT_EQ(bobs.jobs_size(), 0);

  // Alice sees it with either of her tokens.
  v1::ListJobsResponse alices;
  ASSERT_TRUE(stub_->List(As(kAlice2).get(), {}, &alices).ok());
  ASSERT_EQ(alices.jobs_size(), 1);
  EXPECT_EQ(alices.jobs(0).id(), mine.id());
  EXPECT_TRUE(Get(kAlice2, mine.id(), &job).ok());
  EXPECT_EQ(job.state(), v1::SUCCEEDED);
}

TEST_F(AuthTest, IdempotencyKeysArePerTenant) {
  v1::JobSpec a = Pi(1000);
  a.set_idempotency_key("nightly");
  v1::JobSpec b = Pi(2000);
  b.set_idempotency_key("nightly");
  const v1::Job alices = MustSubmit(kAlice, a);
  const v1::Job bobs = MustSubmit(kBob, b);  // no ALREADY_EXISTS
  EXPECT_NE(alices.id(), bobs.id());
  EXPECT_EQ(MustSubmit(kAlice2, a).id(), alices.id());  // her retry
}

TEST_F(AuthTest, DatasetsIndexesAndCachedResultsArePerTenant) {
  ASSERT_TRUE(Upload(kAlice, "corpus", "apple banana\napple\n").ok());
  // Bob has no such dataset: not listed, not usable, not deletable ...
  v1::ListDatasetsResponse datasets;
  ASSERT_TRUE(stub_->ListDatasets(As(kBob).get(), {}, &datasets).ok());
  EXPECT_EQ(datasets.datasets_size(), 0);
  v1::Job job;
  grpc::Status used = Submit(kBob, WordCount("corpus"), &job);
  EXPECT_EQ(used.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(used.error_message().find("spec.wordcount.dataset"),
            std::string::npos)
      << used.error_message();
  v1::DeleteDatasetRequest remove;
  remove.set_name("corpus");
  v1::Dataset removed;
  EXPECT_EQ(stub_->DeleteDataset(As(kBob).get(), remove, &removed).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // ... and may use the name for content of his own.
  ASSERT_TRUE(Upload(kBob, "corpus", "apple banana\napple\n").ok());

  // The same job over equal content: Bob's is computed, not served from
  // Alice's cached result (which would name her job).
  const v1::Job alices =
      WaitDone(kAlice, MustSubmit(kAlice, WordCount("corpus")).id());
  const v1::Job again =
      WaitDone(kAlice, MustSubmit(kAlice, WordCount("corpus")).id());
  EXPECT_TRUE(again.cached());
  EXPECT_EQ(again.cached_from(), alices.id());
  const v1::Job bobs =
      WaitDone(kBob, MustSubmit(kBob, WordCount("corpus")).id());
  EXPECT_EQ(bobs.state(), v1::SUCCEEDED);
  EXPECT_FALSE(bobs.cached());

  // An index built by Alice is not there for Bob.
  v1::JobSpec index;
  index.mutable_index()->set_dataset("corpus");
  index.mutable_index()->set_index_name("fruit");
  WaitDone(kAlice, MustSubmit(kAlice, index).id());
  v1::QueryRequest query;
  query.set_index_name("fruit");
  query.set_query("apple");
  v1::QueryResponse hits;
  ASSERT_TRUE(stub_->Query(As(kAlice).get(), query, &hits).ok());
  EXPECT_EQ(hits.total_matches(), 2u);
  EXPECT_EQ(stub_->Query(As(kBob).get(), query, &hits).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::CompleteRequest complete;
  complete.set_index_name("fruit");
  v1::CompleteResponse words;
  EXPECT_EQ(stub_->Complete(As(kBob).get(), complete, &words).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(AuthTest, RestRoutesNeedATokenAndIsolateTenants) {
  HttpConnection http(server_->http_port());
  using Headers = HttpConnection::Headers;
  const Headers alice = {{"Authorization", std::string("Bearer ") + kAlice}};
  const Headers bob = {{"Authorization", std::string("Bearer ") + kBob}};
  const Headers wrong = {{"Authorization", "Bearer nope-nope-nope-nope-nope"}};

  // Open: probes, metrics, the dashboard and the API description.
  for (const char* path :
       {"/healthz", "/readyz", "/metrics", "/", "/v1/openapi.json"}) {
    EXPECT_EQ(http.Get(path).status, 200) << path;
  }
  // Everything else under /v1/ needs a known token.
  const std::vector<std::pair<http::verb, std::string>> routes = {
      {http::verb::post, "/v1/jobs"},
      {http::verb::get, "/v1/jobs"},
      {http::verb::get, "/v1/jobs/j-1"},
      {http::verb::post, "/v1/jobs/j-1:cancel"},
      {http::verb::delete_, "/v1/jobs/j-1"},
      {http::verb::get, "/v1/jobs/j-1/result"},
      {http::verb::get, "/v1/jobs/j-1/events"},
      {http::verb::post, "/v1/jobs:run"},
      {http::verb::get, "/v1/datasets"},
      {http::verb::get, "/v1/datasets/corpus"},
      {http::verb::delete_, "/v1/datasets/corpus"},
      {http::verb::get, "/v1/indexes/fruit:query?q=apple"},
      {http::verb::get, "/v1/indexes/fruit:complete?prefix=a"},
      {http::verb::get, "/v1/metrics/stream"},
  };
  for (const Headers& headers : {Headers{}, wrong}) {
    for (const auto& [method, target] : routes) {
      HttpReply reply = http.Send(method, target, "{}", headers);
      EXPECT_EQ(reply.status, 401) << target;
      EXPECT_EQ(reply.Header("WWW-Authenticate"), "Bearer realm=\"impulse\"")
          << target;
      EXPECT_NE(reply.body.find("UNAUTHENTICATED"), std::string::npos)
          << reply.body;
    }
    // An upload is refused before its body is read (and the connection
    // closed, as for any refused upload).
    HttpConnection upload(server_->http_port());
    HttpReply put = upload.Send(
        http::verb::put, "/v1/datasets/corpus?format=text", "a\n", headers);
    EXPECT_EQ(put.status, 401);
  }

  // Alice's job is Bob's 404, with the body an unknown id gets.
  HttpReply submitted = http.Send(http::verb::post, "/v1/jobs",
                                  R"({"pi": {"samples": "100000"}})", alice);
  ASSERT_EQ(submitted.status, 200) << submitted.body;
  const std::string id =
      submitted.body.substr(submitted.body.find("\"id\":\"") + 6, 18);
  EXPECT_EQ(http.Get("/v1/jobs/" + id, alice).status, 200);
  HttpReply other = http.Get("/v1/jobs/" + id, bob);
  HttpReply unknown = http.Get("/v1/jobs/j-0000000000000000", bob);
  EXPECT_EQ(other.status, 404);
  std::string expected = unknown.body;
  expected.replace(expected.find("j-0000000000000000"), 18, id);
  EXPECT_EQ(other.body, expected);
  EXPECT_EQ(
      http.Send(http::verb::post, "/v1/jobs/" + id + ":cancel", "", bob).status,
      404);
  EXPECT_EQ(http.Send(http::verb::delete_, "/v1/jobs/" + id, "", bob).status,
            404);
  EXPECT_EQ(http.Get("/v1/jobs/" + id, alice).status, 200);
  HttpReply list = http.Get("/v1/jobs", bob);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(id), std::string::npos) << list.body;
  EXPECT_NE(http.Get("/v1/jobs", alice).body.find(id), std::string::npos);

  // Datasets over REST land in the uploader's tenant only.
  HttpConnection upload(server_->http_port());
  EXPECT_EQ(upload
                .Send(http::verb::put, "/v1/datasets/notes?format=text",
                      "hello\n", alice)
                .status,
            200);
  EXPECT_EQ(http.Get("/v1/datasets/notes", alice).status, 200);
  EXPECT_EQ(http.Get("/v1/datasets/notes", bob).status, 404);
}

TEST(TokenFileTest, ParsesPairsAndNamesTheBadLine) {
  const fs::path dir = TempDir();
  auto write = [&dir](const std::string& text) {
    const fs::path path = dir / "tokens";
    std::ofstream(path) << text;
    return path.string();
  };
  auto ok = edge::TokenAuth::Load(
      write("# tenants\nalice alice-token-0123456789  # a comment\n\n"
            "bob bob-token-0123456789abc\n"));
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(ok.value()->size(), 2u);
  Result<std::string> tenant =
      ok.value()->Authenticate("Bearer bob-token-0123456789abc");
  ASSERT_TRUE(tenant.ok());
  EXPECT_EQ(tenant.value(), "bob");
  EXPECT_TRUE(ok.value()->Authenticate("bearer bob-token-0123456789abc").ok());
  EXPECT_FALSE(ok.value()->Authenticate("Bearer bob-token-0123456789ab").ok());
  EXPECT_FALSE(ok.value()->Authenticate("Bearer ").ok());
  EXPECT_FALSE(ok.value()->Authenticate("").ok());

  auto three = edge::TokenAuth::Load(write("alice a b c\n"));
  ASSERT_FALSE(three.ok());
  EXPECT_NE(three.error().message.find(":1:"), std::string::npos)
      << three.error().message;
  auto short_token = edge::TokenAuth::Load(write("alice short\n"));
  ASSERT_FALSE(short_token.ok());
  EXPECT_NE(short_token.error().message.find("16"), std::string::npos);
  auto bad_tenant =
      edge::TokenAuth::Load(write("al/ice alice-token-0123456789\n"));
  EXPECT_FALSE(bad_tenant.ok());
  auto duplicate = edge::TokenAuth::Load(
      write("a alice-token-0123456789\nb alice-token-0123456789\n"));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.error().message.find("twice"), std::string::npos);
  // The message never repeats a token.
  EXPECT_EQ(duplicate.error().message.find("alice-token"), std::string::npos);
  EXPECT_FALSE(edge::TokenAuth::Load(write("# nothing\n")).ok());
  EXPECT_FALSE(edge::TokenAuth::Load((dir / "missing").string()).ok());
  fs::remove_all(dir);
}

TEST(ExposureTest, WithoutTokensOnlyLoopbackUnlessInsecure) {
  ServerOptions options;
  options.grpc_listen = "0.0.0.0:0";
  options.http_listen = "";
  options.use_gpu = false;
  options.manager.scheduler.cpu_threads = 1;
  {
    ImpulseServer server(options);
    Status status = server.Start();
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().field, "grpc_listen");
    EXPECT_NE(status.error().message.find("--insecure"), std::string::npos);
  }
  options.insecure = true;
  {
    ImpulseServer server(options);
    EXPECT_TRUE(server.Start().ok());
  }
  options.insecure = false;
  options.auth = edge::TokenAuth::FromPairs({{"alice", kAlice}}).value();
  {
    ImpulseServer server(options);
    EXPECT_TRUE(server.Start().ok());
  }
  options.auth = nullptr;
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "0.0.0.0:0";
  {
    ImpulseServer server(options);
    Status status = server.Start();
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().field, "http_listen");
  }
}

}  // namespace
}  // namespace impulse::testing
