// TLS and mutual TLS on both front-ends of a real in-process server: gRPC
// (SslServerCredentials) and the HTTP gateway (Beast over an SSL stream).
// The certificates are made at test time by make_test_certs.sh (openssl
// CLI) in the test's temporary directory.
// Usage: tls_test MAKE_TEST_CERTS_SH [gtest flags]
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "impulse/v1/jobs.grpc.pb.h"
#include "server/impulse_server.h"
#include "tests/common/test_threads.h"
#include "tests/rest/http_client.h"
#include "tests/security/https_client.h"

namespace impulse::testing {
namespace {

std::string g_make_certs;  // argv[1]
std::string g_certs;       // the directory it filled

std::string Cert(const std::string& name) { return g_certs + "/" + name; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A gRPC JobService client over TLS trusting `ca`, presenting `cert` when
// given; empty `ca`: plaintext.
class GrpcClient {
 public:
  GrpcClient(int port, const std::string& ca, const std::string& cert = "",
             const std::string& key = "") {
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        grpc::InsecureChannelCredentials();
    if (!ca.empty()) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = ReadFile(ca);
      if (!cert.empty()) {
        ssl.pem_cert_chain = ReadFile(cert);
        ssl.pem_private_key = ReadFile(key);
      }
      credentials = grpc::SslCredentials(ssl);
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
                1);  // a connection of its own
    stub_ = v1::JobService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port), credentials, args));
  }

  grpc::Status Submit(const v1::JobSpec& spec, v1::Job* job) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    v1::SubmitRequest request;
    *request.mutable_spec() = spec;
    return stub_->Submit(&context, request, job);
  }

  // Every event of the job to its end.
  std::vector<v1::JobEvent> WatchAll(const std::string& id,
                                     grpc::Status* status) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(60));
    v1::WatchRequest request;
    request.set_id(id);
    auto reader = stub_->Watch(&context, request);
    std::vector<v1::JobEvent> events;
    v1::JobEvent event;
    while (reader->Read(&event)) events.push_back(event);
    *status = reader->Finish();
    return events;
  }

 private:
  std::unique_ptr<v1::JobService::Stub> stub_;
};

v1::JobSpec PiSpec() {
  v1::JobSpec spec;
  spec.mutable_pi()->set_samples(1'000'000);
  spec.mutable_pi()->set_seed(7);
  return spec;
}

ServerOptions Options(bool mtls) {
  ServerOptions options;
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.use_gpu = false;
  options.manager.scheduler.cpu_threads = kTestCpuThreads;
  options.manager.storage_dir = g_certs + "/storage";  // datasets
  options.tls.cert_file = Cert("server.pem");
  options.tls.key_file = Cert("server.key");
  if (mtls) options.tls.client_ca_file = Cert("ca.pem");
  return options;
}

// The value of an unlabelled sample in Prometheus text, or -1.
double Sample(const std::string& text, const std::string& name) {
  const std::string prefix = "\n" + name + " ";
  const std::size_t at = ("\n" + text).find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + prefix.size() - 1));
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(/*mtls=*/false); }

  void Start(bool mtls) {
    server_ = std::make_unique<ImpulseServer>(Options(mtls));
    Status status = server_->Start();
    ASSERT_TRUE(status.ok()) << status.error().ToString();
  }

  int grpc_port() const { return server_->grpc_port(); }
  int http_port() const { return server_->http_port(); }

  // An HTTPS connection trusting the test CA (and presenting `client`'s
  // certificate when given).
  std::unique_ptr<HttpsConnection> Https(const std::string& client = "") {
    auto context = client.empty()
                       ? ClientTlsContext(Cert("ca.pem"))
                       : ClientTlsContext(Cert("ca.pem"), Cert(client + ".pem"),
                                          Cert(client + ".key"));
    return std::make_unique<HttpsConnection>(http_port(), context);
  }

  double HandshakeFailures() {
    std::unique_ptr<HttpsConnection> https = Https();
    std::optional<HttpReply> reply = https->Get("/metrics");
    EXPECT_TRUE(reply.has_value()) << https->error().message();
    if (!reply.has_value()) return -1;
    return Sample(reply->body, "impulse_http_tls_handshake_failures_total");
  }

  std::unique_ptr<ImpulseServer> server_;
};

TEST_F(TlsTest, GrpcOverTlsWorksWithTheCa) {
  GrpcClient client(grpc_port(), Cert("ca.pem"));
  v1::Job job;
  grpc::Status status = client.Submit(PiSpec(), &job);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<v1::JobEvent> events = client.WatchAll(job.id(), &status);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(v1::JobState_Name(events.back().state()), "SUCCEEDED");
}

TEST_F(TlsTest, PlaintextGrpcClientIsRefused) {
  GrpcClient plaintext(grpc_port(), /*ca=*/"");
  v1::Job job;
  grpc::Status status = plaintext.Submit(PiSpec(), &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  // And the server still serves TLS clients.
  GrpcClient client(grpc_port(), Cert("ca.pem"));
  status = client.Submit(PiSpec(), &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(TlsTest, GrpcClientThatDoesNotTrustTheServerIsRefused) {
  GrpcClient client(grpc_port(), Cert("other_ca.pem"));
  v1::Job job;
  grpc::Status status = client.Submit(PiSpec(), &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
}

TEST_F(TlsTest, HttpsHealthAndSubmitWorkOnOneKeepAliveConnection) {
  std::unique_ptr<HttpsConnection> https = Https();
  ASSERT_TRUE(https->connected()) << https->error().message();
  std::optional<HttpReply> health = https->Get("/healthz");
  ASSERT_TRUE(health.has_value()) << https->error().message();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");
  EXPECT_TRUE(health->keep_alive);

  std::optional<HttpReply> submitted =
      https->Post("/v1/jobs", R"({"pi": {"samples": "1000000", "seed": "7"}})");
  ASSERT_TRUE(submitted.has_value()) << https->error().message();
  EXPECT_EQ(submitted->status, 200) << submitted->body;
  const v1::Job job = [&] {
    v1::Job parsed;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(submitted->body, &parsed)
            .ok());
    return parsed;
  }();
  EXPECT_FALSE(job.id().empty());
  std::optional<HttpReply> got = https->Get("/v1/jobs/" + job.id());
  ASSERT_TRUE(got.has_value()) << https->error().message();
  EXPECT_EQ(got->status, 200);
}

TEST_F(TlsTest, HttpsClientThatDoesNotTrustTheServerFailsItsHandshake) {
  HttpsConnection https(http_port(), ClientTlsContext(Cert("other_ca.pem")));
  EXPECT_FALSE(https.connected());
  EXPECT_TRUE(https.error()) << "handshake should fail";
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsA400AndTheServerKeepsServing) {
  const double failures_before = HandshakeFailures();
  HttpConnection plain(http_port(), std::chrono::seconds(10));
  const std::string answer =
      plain.SendRaw("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_NE(answer.find("HTTP/1.1 400"), std::string::npos) << answer;
  EXPECT_NE(answer.find("HTTPS only"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;

  std::unique_ptr<HttpsConnection> https = Https();
  std::optional<HttpReply> health = https->Get("/healthz");
  ASSERT_TRUE(health.has_value()) << https->error().message();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(HandshakeFailures(), failures_before + 1);
}

TEST_F(TlsTest, GarbageHandshakeEndsOnlyThatConnection) {
  const double failures_before = HandshakeFailures();
  // What looks like the start of a ClientHello, then nonsense.
  HttpConnection garbage(http_port(), std::chrono::seconds(10));
  garbage.SendRaw(std::string("\x16\x03\x01\x00\x40\x01", 6) +
                  std::string(63, '\x42'));
  // A client that connects and sends nothing is cut off after the
  // handshake timeout; meanwhile others are served.
  HttpConnection silent(http_port(), std::chrono::seconds(10));
  std::unique_ptr<HttpsConnection> https = Https();
  std::optional<HttpReply> health = https->Get("/healthz");
  ASSERT_TRUE(health.has_value()) << https->error().message();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(HandshakeFailures(), failures_before + 1);
}

TEST_F(TlsTest, EventStreamOverHttpsDeliversEveryEventAndKeepsTheConnection) {
  std::unique_ptr<HttpsConnection> https = Https();
  std::optional<SseReply> run =
      https->Events(http::verb::post, "/v1/jobs:run",
                    R"({"pi": {"samples": "5000000", "seed": "7"}})");
  ASSERT_TRUE(run.has_value()) << https->error().message();
  EXPECT_EQ(run->status, 200);
  EXPECT_TRUE(run->complete);
  ASSERT_FALSE(run->events.empty());
  EXPECT_NE(run->events.back().data.find("SUCCEEDED"), std::string::npos)
      << run->events.back().data;
  const v1::JobEvent last = [&] {
    v1::JobEvent parsed;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                    run->events.back().data, &parsed)
                    .ok());
    return parsed;
  }();
  // Resuming after the first event gives the rest, to the end.
  std::optional<SseReply> resumed = https->Events(
      http::verb::get, "/v1/jobs/" + last.job_id() + "/events?after_seq=1");
  ASSERT_TRUE(resumed.has_value()) << https->error().message();
  EXPECT_TRUE(resumed->complete);
  EXPECT_EQ(resumed->events.size() + 1, run->events.size());
  // The close watcher's read was cancelled cleanly: the TLS connection
  // serves the next request.
  std::optional<HttpReply> health = https->Get("/healthz");
  ASSERT_TRUE(health.has_value()) << https->error().message();
  EXPECT_EQ(health->status, 200);
}

TEST_F(TlsTest, MetricsStreamAndUploadWorkOverHttps) {
  {
    std::unique_ptr<HttpsConnection> https = Https();
    std::optional<SseReply> samples = https->Events(
        http::verb::get, "/v1/metrics/stream?interval_ms=50", "",
        [](const SseReply& reply) { return reply.events.size() >= 2; });
    ASSERT_TRUE(samples.has_value()) << https->error().message();
    EXPECT_EQ(samples->status, 200) << samples->body;
    ASSERT_GE(samples->events.size(), 2u) << samples->body;
    EXPECT_EQ(samples->events[0].event, "sample");
  }
  std::unique_ptr<HttpsConnection> https = Https();
  std::optional<HttpReply> stored =
      https->Send(http::verb::put, "/v1/datasets/pets?format=text",
                  "the cat sat\nthe dog ran\n");
  ASSERT_TRUE(stored.has_value()) << https->error().message();
  EXPECT_EQ(stored->status, 200) << stored->body;
  std::optional<HttpReply> listed = https->Get("/v1/datasets/pets");
  ASSERT_TRUE(listed.has_value()) << https->error().message();
  EXPECT_EQ(listed->status, 200) << listed->body;
}

TEST_F(TlsTest, ConnectionCloseEndsWithCloseNotify) {
  std::unique_ptr<HttpsConnection> https = Https();
  std::optional<HttpReply> health =
      https->Get("/healthz", {{"Connection", "close"}});
  ASSERT_TRUE(health.has_value()) << https->error().message();
  EXPECT_EQ(health->status, 200);
  EXPECT_FALSE(health->keep_alive);
  // eof (not stream_truncated): the server sent close_notify.
  EXPECT_EQ(https->ReadToEnd(), asio::error::eof);
}

TEST_F(TlsTest, OversizedBodyOverHttpsGetsItsAnswer) {
  std::unique_ptr<HttpsConnection> https = Https();
  // Larger than the 16 MiB default: refused from Content-Length, and the
  // answer arrives although the body is still being sent.
  std::optional<HttpReply> reply =
      https->Post("/v1/jobs", std::string((16 << 20) + 1, 'x'));
  ASSERT_TRUE(reply.has_value()) << https->error().message();
  EXPECT_EQ(reply->status, 413) << reply->body;
}

class MtlsTest : public TlsTest {
 protected:
  void SetUp() override { Start(/*mtls=*/true); }
};

TEST_F(MtlsTest, GrpcWithoutClientCertificateIsRefused) {
  GrpcClient client(grpc_port(), Cert("ca.pem"));
  v1::Job job;
  grpc::Status status = client.Submit(PiSpec(), &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
}

TEST_F(MtlsTest, GrpcWithCertificateSignedByTheCaWorks) {
  GrpcClient client(grpc_port(), Cert("ca.pem"), Cert("client.pem"),
                    Cert("client.key"));
  v1::Job job;
  grpc::Status status = client.Submit(PiSpec(), &job);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<v1::JobEvent> events = client.WatchAll(job.id(), &status);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(v1::JobState_Name(events.back().state()), "SUCCEEDED");
}

TEST_F(MtlsTest, GrpcWithCertificateFromAnotherCaIsRefused) {
  GrpcClient client(grpc_port(), Cert("ca.pem"), Cert("other_client.pem"),
                    Cert("other_client.key"));
  v1::Job job;
  grpc::Status status = client.Submit(PiSpec(), &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
}

TEST_F(MtlsTest, HttpsWithoutClientCertificateIsRefused) {
  std::unique_ptr<HttpsConnection> https = Https();
  // Under TLS 1.3 the client may finish its side of the handshake before
  // the server refuses; then the first exchange fails.
  std::optional<HttpReply> reply;
  if (https->connected()) reply = https->Get("/healthz");
  EXPECT_FALSE(reply.has_value()) << "status " << reply->status;
  EXPECT_TRUE(https->error());
}

TEST_F(MtlsTest, HttpsWithCertificateSignedByTheCaWorks) {
  std::unique_ptr<HttpsConnection> https = Https("client");
  ASSERT_TRUE(https->connected()) << https->error().message();
  std::optional<HttpReply> health = https->Get("/healthz");
  ASSERT_TRUE(health.has_value()) << https->error().message();
  EXPECT_EQ(health->status, 200);
  std::optional<SseReply> run =
      https->Events(http::verb::post, "/v1/jobs:run",
                    R"({"pi": {"samples": "1000000", "seed": "7"}})");
  ASSERT_TRUE(run.has_value()) << https->error().message();
  EXPECT_TRUE(run->complete);
  ASSERT_FALSE(run->events.empty());
  EXPECT_NE(run->events.back().data.find("SUCCEEDED"), std::string::npos);
}

TEST_F(MtlsTest, HttpsWithCertificateFromAnotherCaIsRefused) {
  std::unique_ptr<HttpsConnection> https = Https("other_client");
  std::optional<HttpReply> reply;
  if (https->connected()) reply = https->Get("/healthz");
  EXPECT_FALSE(reply.has_value()) << "status " << reply->status;
  EXPECT_TRUE(https->error());
}

// Start-up errors: each names its flag, and nothing starts listening.
class TlsStartupTest : public ::testing::Test {
 protected:
  static Error StartError(edge::TlsFiles files) {
    ServerOptions options = Options(false);
    options.tls = std::move(files);
    ImpulseServer server(options);
    Status status = server.Start();
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(server.grpc_port(), 0);
    EXPECT_EQ(server.http_port(), 0);
    return status.ok() ? Error{} : status.error();
  }

  static std::string WriteTemp(const std::string& name,
                               const std::string& text) {
    const std::string path = g_certs + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
};

// Mutual TLS authenticates every client, so it may listen beyond loopback
// without tokens; plain TLS only encrypts and may not.
TEST(TlsExposureTest, MutualTlsMayListenBeyondLoopbackPlainTlsMayNot) {
  ServerOptions options = Options(/*mtls=*/false);
  options.grpc_listen = "0.0.0.0:0";
  {
    ImpulseServer server(options);
    Status status = server.Start();
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().field, "grpc_listen");
    EXPECT_NE(status.error().message.find("--tls_client_ca"), std::string::npos)
        << status.error().message;
  }
  options = Options(/*mtls=*/true);
  options.grpc_listen = "0.0.0.0:0";
  ImpulseServer server(options);
  Status status = server.Start();
  ASSERT_TRUE(status.ok()) << status.error().ToString();
  EXPECT_GT(server.grpc_port(), 0);
}

TEST_F(TlsStartupTest, CertWithoutKeyNamesTlsKey) {
  Error error = StartError({.cert_file = Cert("server.pem")});
  EXPECT_EQ(error.field, "tls_key");
  EXPECT_NE(error.message.find("--tls_key"), std::string::npos)
      << error.message;
}

TEST_F(TlsStartupTest, KeyWithoutCertNamesTlsCert) {
  Error error = StartError({.key_file = Cert("server.key")});
  EXPECT_EQ(error.field, "tls_cert");
}

TEST_F(TlsStartupTest, ClientCaWithoutCertNamesTlsClientCa) {
  Error error = StartError({.client_ca_file = Cert("ca.pem")});
  EXPECT_EQ(error.field, "tls_client_ca");
}

TEST_F(TlsStartupTest, UnreadableFilesNameTheirFlag) {
  Error error = StartError(
      {.cert_file = Cert("missing.pem"), .key_file = Cert("server.key")});
  EXPECT_EQ(error.field, "tls_cert");
  EXPECT_NE(error.message.find("missing.pem"), std::string::npos)
      << error.message;
  error = StartError(
      {.cert_file = Cert("server.pem"), .key_file = Cert("missing.key")});
  EXPECT_EQ(error.field, "tls_key");
  error = StartError({.cert_file = Cert("server.pem"),
                      .key_file = Cert("server.key"),
                      .client_ca_file = g_certs});  // a directory
  EXPECT_EQ(error.field, "tls_client_ca");
}

TEST_F(TlsStartupTest, BadPemNamesItsFlag) {
  const std::string garbage = WriteTemp("garbage.pem", "not a certificate\n");
  Error error =
      StartError({.cert_file = garbage, .key_file = Cert("server.key")});
  EXPECT_EQ(error.field, "tls_cert");
  // A certificate block whose contents are damaged.
  std::string damaged = ReadFile(Cert("server.pem"));
  damaged.replace(damaged.find('\n') + 10, 8, "!!!!!!!!");
  error = StartError({.cert_file = WriteTemp("damaged.pem", damaged),
                      .key_file = Cert("server.key")});
  EXPECT_EQ(error.field, "tls_cert");
  error = StartError({.cert_file = Cert("server.pem"), .key_file = garbage});
  EXPECT_EQ(error.field, "tls_key");
  error = StartError({.cert_file = Cert("server.pem"),
                      .key_file = Cert("server.key"),
                      .client_ca_file = garbage});
  EXPECT_EQ(error.field, "tls_client_ca");
}

TEST_F(TlsStartupTest, KeyOfAnotherCertificateNamesTlsKey) {
  Error error = StartError(
      {.cert_file = Cert("server.pem"), .key_file = Cert("client.key")});
  EXPECT_EQ(error.field, "tls_key");
  EXPECT_NE(error.message.find("does not belong"), std::string::npos)
      << error.message;
}

TEST_F(TlsStartupTest, EncryptedKeyIsRefusedWithoutPrompting) {
  Error error = StartError({.cert_file = Cert("server.pem"),
                            .key_file = Cert("server_encrypted.key")});
  EXPECT_EQ(error.field, "tls_key");
  EXPECT_NE(error.message.find("encrypted"), std::string::npos)
      << error.message;
}

}  // namespace
}  // namespace impulse::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MAKE_TEST_CERTS_SH\n", argv[0]);
    return 2;
  }
  using impulse::testing::g_certs;
  using impulse::testing::g_make_certs;
  g_make_certs = argv[1];
  const char* tmp = std::getenv("TEST_TMPDIR");
  g_certs =
      (std::filesystem::path(tmp != nullptr ? tmp : "/tmp") / "tls_test_certs")
          .string();
  std::filesystem::remove_all(g_certs);
  const std::string command = g_make_certs + " " + g_certs;
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "%s failed\n", command.c_str());
    return 1;
  }
  return RUN_ALL_TESTS();
}
