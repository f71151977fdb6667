// TLS for both front-ends: the files named by --tls_cert, --tls_key and
// --tls_client_ca are read and checked once at start-up, so a missing or bad
// file stops the start with an error naming its flag (rather than a vague
// failure inside gRPC or OpenSSL later). gRPC takes the PEM text as it is;
// the HTTP gateway builds an OpenSSL context from it (MakeServerTlsContext).
// Key material is never logged.
#pragma once

#include <memory>
#include <string>

#include "compute/common/status.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace impulse::edge {

struct TlsFiles {
  std::string cert_file;  // --tls_cert: PEM certificate chain, leaf first
  std::string key_file;   // --tls_key: the leaf's PEM private key
  // --tls_client_ca: PEM CA certificate(s); when set, every client must
  // present a certificate signed by one of them (mTLS).
  std::string client_ca_file;

  // Any TLS flag given: the server serves TLS only (or fails to start).
  bool enabled() const {
    return !cert_file.empty() || !key_file.empty() || !client_ca_file.empty();
  }
};

struct TlsMaterial {
  std::string cert_chain_pem;
  std::string private_key_pem;
  std::string client_ca_pem;  // empty: no client certificate is asked for
  // For the log: the leaf's subject, subjectAltNames and expiry, the files.
  std::string description;

  bool require_client_cert() const { return !client_ca_pem.empty(); }
};

// Reads and checks the files: the certificate and the key must both be
// given, parse as PEM, and belong together; a client CA needs them and must
// hold at least one certificate. Encrypted keys are refused (there is no one
// to type the passphrase). The error's field names the flag ("tls_key").
Result<TlsMaterial> LoadTls(const TlsFiles& files);

// An OpenSSL server context for the HTTP gateway: TLS 1.2 or later, the
// certificate chain and key, and with a client CA, a required client
// certificate signed by it. An error names the flag.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const TlsMaterial& material);

}  // namespace impulse::edge
