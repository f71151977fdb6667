#include "server/grpc/result_forwarder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <utility>

#include "server/edge/blocking_pool.h"
#include "server/grpc/grpc_operation.h"

namespace impulse::grpc_bridge {
namespace {

// A forwarded read never holds a blocking-pool thread longer than this, even
// when the client set no deadline and the other replica stops answering.
constexpr auto kMaxForward = std::chrono::minutes(10);

// One forwarded call: the client side lives on the heap, since its blocking
// steps run on the pool while the coroutine waits.
struct Upstream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::ResultChunk>> reader;
  v1::ResultChunk chunk;
};

}  // namespace

ResultForwarder::ResultForwarder(std::shared_ptr<const edge::TlsMaterial> tls,
                                 std::string peer_ca_pem) {
  if (tls == nullptr) {
    credentials_ = grpc::InsecureChannelCredentials();
    return;
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs =
      peer_ca_pem.empty() ? tls->cert_chain_pem : std::move(peer_ca_pem);
  ssl.pem_private_key = tls->private_key_pem;
  ssl.pem_cert_chain = tls->cert_chain_pem;
  credentials_ = grpc::SslCredentials(ssl);
}

bool ResultForwarder::IsForwarded(const grpc::ServerContext& context) {
  return context.client_metadata().find(kForwardedHeader) !=
         context.client_metadata().end();
}

v1::JobService::Stub& ResultForwarder::StubFor(const std::string& holder) {
  std::lock_guard lock(mu_);
  std::unique_ptr<v1::JobService::Stub>& stub = stubs_[holder];
  if (stub == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    stub = v1::JobService::NewStub(
        grpc::CreateCustomChannel(holder, credentials_, args));
  }
  return *stub;
}

boost::asio::awaitable<grpc::Status> ResultForwarder::Forward(
    StreamCall<v1::GetResultRequest, v1::ResultChunk>& call,
    const std::string& holder) {
  auto upstream = std::make_shared<Upstream>();
  const auto cap = std::chrono::system_clock::now() + kMaxForward;
  upstream->context.set_deadline(std::min(call.context.deadline(), cap));
  const auto& metadata = call.context.client_metadata();
  if (auto token = metadata.find("authorization"); token != metadata.end()) {
    upstream->context.AddMetadata(
        "authorization",
        std::string(token->second.data(), token->second.size()));
  }
  upstream->context.AddMetadata(kForwardedHeader, "1");
  spdlog::info("job={} GetResult forwarded to replica {}", call.request.id(),
               holder);

  v1::JobService::Stub& stub = StubFor(holder);
  auto start =
      edge::OnBlockingPool<bool>([upstream, &stub, request = call.request] {
        upstream->reader = stub.GetResult(&upstream->context, request);
        return true;
      });
  co_await std::move(start);
  for (;;) {
    auto read = edge::OnBlockingPool<bool>(
        [upstream] { return upstream->reader->Read(&upstream->chunk); });
    if (!co_await std::move(read)) break;
    if (!co_await Write(call.writer, upstream->chunk,
                        boost::asio::use_awaitable)) {
      // The client is gone: stop the other replica's stream too.
      upstream->context.TryCancel();
      auto drain = edge::OnBlockingPool<grpc::Status>(
          [upstream] { return upstream->reader->Finish(); });
      co_await std::move(drain);
      co_return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
    }
  }
  auto finish = edge::OnBlockingPool<grpc::Status>(
      [upstream] { return upstream->reader->Finish(); });
  grpc::Status status = co_await std::move(finish);
  if (status.ok()) co_return status;
  co_return grpc::Status(
      status.error_code(),
      "reading the result from replica " + holder +
          " (it keeps the result's file): " + status.error_message());
}

}  // namespace impulse::grpc_bridge
