// The one place that maps compute/core errors to gRPC status codes.
#pragma once

#include <grpcpp/grpcpp.h>

#include "compute/common/status.h"

namespace impulse::grpc_bridge {

grpc::StatusCode ToGrpcCode(ErrorCode code);
// Message is "field: reason" when a field is named, so clients see which one.
grpc::Status ToGrpcStatus(const Error& error);

}  // namespace impulse::grpc_bridge
