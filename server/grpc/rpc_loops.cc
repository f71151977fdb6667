#include "server/grpc/rpc_loops.h"

#include "proto/grpc_status_name.h"

namespace impulse::grpc_bridge {

const char* RpcMetrics::StatusCodeName(grpc::StatusCode code) {
  const std::string_view name = GrpcStatusCodeName(code);
  return name.empty() ? "UNKNOWN" : name.data();
}

}  // namespace impulse::grpc_bridge
