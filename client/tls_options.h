// TLS for the CLI's gRPC channel: --tls (trust the system's roots), --tls_ca
// (trust this CA instead), and --tls_cert/--tls_key (present a client
// certificate, for servers started with --tls_client_ca). The files are read
// up front so a bad one is a usage error naming its flag.
#ifndef IMPULSE_CLIENT_TLS_OPTIONS_H_
#define IMPULSE_CLIENT_TLS_OPTIONS_H_

#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

namespace impulse::cli {

struct TlsOptions {
  bool enabled = false;   // --tls (env IMPULSE_TLS)
  std::string ca_file;    // --tls_ca (env IMPULSE_TLS_CA)
  std::string cert_file;  // --tls_cert (env IMPULSE_TLS_CERT)
  std::string key_file;   // --tls_key (env IMPULSE_TLS_KEY)

  // The files' PEM text, filled by LoadTlsFiles.
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

// Checks the flags and reads their files; any file turns TLS on. Returns ""
// or a message naming the flag. Makes no gRPC call (main runs it before
// gRPC starts its threads, which must inherit the blocked SIGINT).
std::string LoadTlsFiles(TlsOptions& tls);

// Plaintext, or TLS with the loaded files.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
    const TlsOptions& tls);

}  // namespace impulse::cli

#endif  // IMPULSE_CLIENT_TLS_OPTIONS_H_
