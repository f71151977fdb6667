// The one place that maps compute/core errors to what clients see: gRPC
// status codes and HTTP statuses. Both front-ends call these.
#pragma once

#include <grpcpp/grpcpp.h>

#include "compute/common/status.h"

namespace impulse::edge {

grpc::StatusCode ToGrpcCode(ErrorCode code);
// Message is "field: reason" when a field is named, so clients see which one.
grpc::Status ToGrpcStatus(const Error& error);

// 400, 404, 409, 412, 429, 499, 504, 503 or 500.
int ToHttpStatus(ErrorCode code);

// Seconds a client should wait before retrying, for errors that say "later"
// (RESOURCE_EXHAUSTED, UNAVAILABLE); 0 otherwise. gRPC sends it as trailing
// metadata "retry-after-ms", HTTP as the Retry-After header.
int RetryAfterSeconds(ErrorCode code);

}  // namespace impulse::edge
