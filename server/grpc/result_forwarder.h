// Cluster mode: GetResult of a result whose rows another replica keeps in a
// file (a large distance matrix; its storage_host names that replica) reads
// the chunks from that replica and passes them on, so any replica answers
// GetResult for any job. The caller's token goes along, so the other replica
// applies the same tenant check; a forwarded call is never forwarded again.
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "impulse/v1/jobs.grpc.pb.h"
#include "server/edge/tls.h"
#include "server/grpc/rpc_loops.h"

namespace impulse::grpc_bridge {

class ResultForwarder {
 public:
  // Metadata that marks a forwarded call.
  static constexpr const char* kForwardedHeader = "impulse-forwarded";

  // `tls`: this replica's TLS material (null: peers speak plaintext). With
  // TLS, peers' certificates are checked against `peer_ca_pem` (empty: this
  // replica's own chain) and this replica's certificate is presented, for
  // peers that require client certificates.
  ResultForwarder(std::shared_ptr<const edge::TlsMaterial> tls,
                  std::string peer_ca_pem);

  static bool IsForwarded(const grpc::ServerContext& context);

  // Streams the result of call.request.id() from `holder` (HOST:PORT) to the
  // caller. Blocking reads run on the blocking pool.
  boost::asio::awaitable<grpc::Status> Forward(
      StreamCall<v1::GetResultRequest, v1::ResultChunk>& call,
      const std::string& holder);

 private:
  v1::JobService::Stub& StubFor(const std::string& holder);

  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<v1::JobService::Stub>> stubs_;
};

}  // namespace impulse::grpc_bridge
