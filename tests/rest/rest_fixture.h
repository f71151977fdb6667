// A real impulsed (ImpulseServer) with its REST gateway on a loopback port
// chosen by the kernel, and helpers that talk to it over real HTTP.
#pragma once

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "impulse/v1/jobs.pb.h"
#include "server/impulse_server.h"
#include "tests/common/test_threads.h"
#include "tests/rest/http_client.h"

namespace impulse::testing {

// Protobuf JSON into a message; a parse failure fails the test.
template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  const auto status =
      google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return message;
}

class RestTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(DefaultOptions()); }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }

  static ServerOptions DefaultOptions() {
    ServerOptions options;
    options.grpc_listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.use_gpu = false;  // so device GPU is refused (412) everywhere
    options.manager.scheduler.cpu_threads = kTestCpuThreads;
    return options;
  }

  void StartServer(ServerOptions options) {
    client_.reset();
    server_.reset();
    server_ = std::make_unique<ImpulseServer>(std::move(options));
    Status status = server_->Start();
    ASSERT_TRUE(status.ok()) << status.error().ToString();
    ASSERT_GT(server_->http_port(), 0);
  }

  int port() const { return server_->http_port(); }

  // The test's keep-alive connection.
  HttpConnection& client() {
    if (client_ == nullptr) client_ = std::make_unique<HttpConnection>(port());
    return *client_;
  }

  // POST /v1/jobs with a JobSpec in JSON; expects 200 and returns the Job.
  v1::Job Submit(const std::string& spec_json) {
    HttpReply reply = client().Post("/v1/jobs", spec_json);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return ParseJson<v1::Job>(reply.body);
  }

  // Every event of the job (on a connection of its own) to the end.
  SseReply WatchToEnd(const std::string& id,
                      HttpConnection::Headers headers = {},
                      const std::string& query = "") {
    HttpConnection connection(port());
    return connection.Events("/v1/jobs/" + id + "/events" + query,
                             std::move(headers));
  }

  v1::Job GetJob(const std::string& id) {
    HttpReply reply = client().Get("/v1/jobs/" + id);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return ParseJson<v1::Job>(reply.body);
  }

  // Polls until the job is in `state` (or 10 s pass).
  v1::Job WaitForState(const std::string& id, v1::JobState state) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(10);
    v1::Job job = GetJob(id);
    while (job.state() != state &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      job = GetJob(id);
    }
    EXPECT_EQ(v1::JobState_Name(job.state()), v1::JobState_Name(state));
    return job;
  }

  // The value of an unlabelled sample in /metrics, or -1 when absent.
  double Metric(const std::string& name) {
    HttpReply reply = client().Get("/metrics");
    EXPECT_EQ(reply.status, 200);
    const std::string prefix = "\n" + name + " ";
    const std::size_t at = ("\n" + reply.body).find(prefix);
    if (at == std::string::npos) return -1;
    return std::stod(reply.body.substr(at + prefix.size() - 1));
  }

  // Runs for minutes unless cancelled.
  static std::string LongParticlesJson() {
    return R"({"particles": {"randomParticles": 100000, "tEnd": 100},
               "device": "CPU"})";
  }

  std::unique_ptr<ImpulseServer> server_;
  std::unique_ptr<HttpConnection> client_;
};

}  // namespace impulse::testing
