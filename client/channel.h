// The CLI's gRPC channel to impulsed: the address, the largest answer it
// accepts, and the bearer token (--token / IMPULSE_TOKEN) sent with every
// call, added in one place by a client interceptor.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace impulse::cli {

inline constexpr int kMaxReceiveBytes = 64 << 20;

// `token` empty: no authorization header (a server without tokens).
// `credentials`: plaintext, or TLS (client/tls_options.h).
std::shared_ptr<grpc::Channel> OpenChannel(
    const std::string& target, const std::string& token,
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        grpc::InsecureChannelCredentials());

}  // namespace impulse::cli
