// The standard gRPC health check against a real impulsed, without the
// generated health stubs (Debian ships no grpc/health/v1 headers): the
// request is the empty HealthCheckRequest and the answer's one field is read
// from its two bytes.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>
#include <vector>

namespace impulse::testing {

// The serving status from grpc.health.v1.Health/Check: 1 SERVING, 2
// NOT_SERVING, -1 when the call failed.
inline int HealthStatus(const std::string& target) {
  grpc::GenericStub generic(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  grpc::Slice no_bytes("");  // HealthCheckRequest{service: ""}
  grpc::ByteBuffer request(&no_bytes, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  // On this thread's own queue (not the callback API), so the answer is
  // read on the thread that asked.
  grpc::CompletionQueue cq;
  auto call = generic.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check",
                                       request, &cq);
  call->StartCall();
  int finished = 0;
  call->Finish(&response, &status, &finished);
  void* tag = nullptr;
  bool ok = false;
  const bool answered = cq.Next(&tag, &ok) && tag == &finished;
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!answered || !status.ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const auto& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : -1;
}

}  // namespace impulse::testing
