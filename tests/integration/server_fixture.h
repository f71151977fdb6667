// A real impulsed (ImpulseServer) on a loopback port chosen by the kernel, and
// helpers that talk to it through real gRPC stubs.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "impulse/v1/jobs.grpc.pb.h"
#include "server/impulse_server.h"
#include "tests/common/test_threads.h"

namespace impulse::testing {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(DefaultOptions()); }
  void TearDown() override { server_.reset(); }

  static ServerOptions DefaultOptions() {
    ServerOptions options;
    options.grpc_listen = "127.0.0.1:0";
    options.manager.scheduler.cpu_threads = kTestCpuThreads;
    return options;
  }

  void StartServer(ServerOptions options) {
    server_.reset();
    server_ = std::make_unique<ImpulseServer>(std::move(options));
    Status status = server_->Start();
    ASSERT_TRUE(status.ok()) << status.error().ToString();
    channel_ = NewChannel();
    stub_ = v1::JobService::NewStub(channel_);
  }

  // A channel with its own connection (not shared with other channels).
  std::shared_ptr<grpc::Channel> NewChannel() const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(server_->grpc_port()),
        grpc::InsecureChannelCredentials(), args);
  }

  grpc::Status Submit(const v1::JobSpec& spec, v1::Job* job) {
    grpc::ClientContext context;
    v1::SubmitRequest request;
    *request.mutable_spec() = spec;
    return stub_->Submit(&context, request, job);
  }

  v1::Job MustSubmit(const v1::JobSpec& spec) {
    v1::Job job;
    grpc::Status status = Submit(spec, &job);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return job;
  }

  grpc::Status Get(const std::string& id, v1::Job* job) {
    grpc::ClientContext context;
    v1::GetJobRequest request;
    request.set_id(id);
    return stub_->Get(&context, request, job);
  }

  grpc::Status Cancel(const std::string& id, v1::Job* job = nullptr) {
    grpc::ClientContext context;
    v1::CancelJobRequest request;
    request.set_id(id);
    v1::Job answer;
    return stub_->Cancel(&context, request, job != nullptr ? job : &answer);
  }

  // All events of a Watch from after_seq to the end of the stream.
  std::vector<v1::JobEvent> WatchAll(const std::string& id,
                                     std::uint64_t after_seq,
                                     grpc::Status* status = nullptr) {
    grpc::ClientContext context;
    v1::WatchRequest request;
    request.set_id(id);
    request.set_after_seq(after_seq);
    auto reader = stub_->Watch(&context, request);
    std::vector<v1::JobEvent> events;
    v1::JobEvent event;
    while (reader->Read(&event)) events.push_back(event);
    grpc::Status finish = reader->Finish();
    if (status != nullptr) *status = finish;
    return events;
  }

  // Waits for the job to finish (by watching) and returns its final state.
  v1::Job WaitDone(const std::string& id) {
    WatchAll(id, 0);
    v1::Job job;
    EXPECT_TRUE(Get(id, &job).ok());
    return job;
  }

  static v1::JobSpec PiSpec(std::uint64_t samples, std::uint64_t seed) {
    v1::JobSpec spec;
    spec.mutable_pi()->set_samples(samples);
    spec.mutable_pi()->set_seed(seed);
    return spec;
  }

  // A particles job long enough to still be running when a test acts on it.
  static v1::JobSpec LongParticlesSpec() {
    v1::JobSpec spec;
    spec.mutable_particles()->set_random_particles(100'000);
    spec.mutable_particles()->set_t_end(100.0);  // 1e12 particle-steps: minutes
    spec.set_device(v1::CPU);
    return spec;
  }

  std::unique_ptr<ImpulseServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> stub_;
};

}  // namespace impulse::testing
