#include "client/tls_options.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace impulse::cli {
namespace {

// Reads `path` into `out` and checks it holds a PEM block whose label ends
// with `label` ("CERTIFICATE", "PRIVATE KEY"); "" or the error.
std::string ReadPem(const std::string& flag, const std::string& path,
                    const std::string& label, std::string* out) {
  const std::string where = flag + "=" + path;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return where + ": cannot read: " +
           (std::filesystem::exists(path, ec) ? "not a regular file"
                                              : "no such file");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    return where + ": cannot read: " + std::strerror(errno);
  }
  *out = text.str();
  if (out->find(label + "-----") == std::string::npos ||
      out->find("-----BEGIN ") == std::string::npos) {
    return where + ": not a PEM file (expected a -----BEGIN ... " + label +
           "----- block)";
  }
  if (out->find("ENCRYPTED") != std::string::npos) {
    return where + ": the key is encrypted; give an unencrypted key";
  }
  return "";
}

}  // namespace

std::string LoadTlsFiles(TlsOptions& tls) {
  if (!tls.cert_file.empty() && tls.key_file.empty()) {
    return "--tls_cert needs --tls_key (the client certificate's private "
           "key)";
  }
  if (tls.cert_file.empty() && !tls.key_file.empty()) {
    return "--tls_key needs --tls_cert (the client certificate)";
  }
  if (!tls.ca_file.empty()) {
    if (std::string error =
            ReadPem("--tls_ca", tls.ca_file, "CERTIFICATE", &tls.ca_pem);
        !error.empty()) {
      return error;
    }
  }
  if (!tls.cert_file.empty()) {
    if (std::string error =
            ReadPem("--tls_cert", tls.cert_file, "CERTIFICATE", &tls.cert_pem);
        !error.empty()) {
      return error;
    }
    if (std::string error =
            ReadPem("--tls_key", tls.key_file, "PRIVATE KEY", &tls.key_pem);
        !error.empty()) {
      return error;
    }
  }
  if (!tls.ca_file.empty() || !tls.cert_file.empty()) tls.enabled = true;
  return "";
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
    const TlsOptions& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls.ca_pem;  // empty: the system's roots
  ssl.pem_private_key = tls.key_pem;
  ssl.pem_cert_chain = tls.cert_pem;
  return grpc::SslCredentials(ssl);
}

}  // namespace impulse::cli
