// The canonical name of a gRPC status code ("INVALID_ARGUMENT"), shared by the
// server's metrics and the CLI's messages.
#pragma once

#include <grpcpp/support/status_code_enum.h>

#include <string_view>

namespace impulse {

// "" for a value outside the enum.
std::string_view GrpcStatusCodeName(grpc::StatusCode code);

}  // namespace impulse
