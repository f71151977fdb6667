#include "server/edge/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace impulse::edge {
namespace {

namespace ssl = boost::asio::ssl;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Sessions are cached per context; OpenSSL refuses to resume one without an
// id context once client certificates are verified.
constexpr std::string_view kSessionIdContext = "impulsed";

Error FlagError(std::string_view flag, std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message),
               std::string(flag)};
}

// Never asks for a passphrase (OpenSSL's default prompts on the terminal).
int NoPassphrase(char*, int, int, void*) { return -1; }

// OpenSSL's reason for the last error, e.g. "bad base64 decode".
std::string LastOpenSslError() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "error " + std::to_string(code);
}

Result<std::string> ReadFile(std::string_view flag, const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (!std::filesystem::is_regular_file(status)) {
    std::string why = "not a regular file";
    if (!std::filesystem::exists(status)) why = "no such file";
    if (ec && ec != std::errc::no_such_file_or_directory) why = ec.message();
    return FlagError(
        flag, "cannot read --" + std::string(flag) + "=" + path + ": " + why);
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    return FlagError(flag, "cannot read --" + std::string(flag) + "=" + path +
                               ": " + std::strerror(errno));
  }
  return text.str();
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in `pem`, in order; an error when there is none or a
// block is malformed.
Result<std::vector<X509Ptr>> ParseCertificates(std::string_view flag,
                                               const std::string& path,
                                               const std::string& pem) {
  ERR_clear_error();
  BioPtr bio = MemoryBio(pem);
  std::vector<X509Ptr> certs;
  while (X509* cert =
             PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
    certs.emplace_back(cert);
  }
  // Running out of PEM blocks ends the loop with "no start line".
  const unsigned long code = ERR_peek_last_error();
  const bool clean_end =
      code == 0 || (ERR_GET_LIB(code) == ERR_LIB_PEM &&
                    ERR_GET_REASON(code) == PEM_R_NO_START_LINE);
  const std::string where = "--" + std::string(flag) + "=" + path;
  if (!clean_end) {
    return FlagError(flag, where + " is not a valid PEM certificate file (" +
                               LastOpenSslError() + ")");
  }
  ERR_clear_error();
  if (certs.empty()) {
    return FlagError(flag, where +
                               " holds no PEM certificate (expected "
                               "-----BEGIN CERTIFICATE-----)");
  }
  return certs;
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : "";
}

std::string SubjectText(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0,
                     XN_FLAG_RFC2253);
  return BioText(bio.get());
}

std::string TimeText(const ASN1_TIME* time) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), time);
  return BioText(bio.get());
}

// "DNS:localhost,IP:127.0.0.1" (the names clients check), or "none".
std::string SubjectAltNames(X509* cert) {
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return "none";
  std::string out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    std::string text;
    if (name->type == GEN_DNS) {
      const ASN1_STRING* dns = name->d.dNSName;
      text =
          "DNS:" +
          std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                      ASN1_STRING_length(dns));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char buffer[INET6_ADDRSTRLEN] = {};
      const int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      if (inet_ntop(family, ASN1_STRING_get0_data(ip), buffer,
                    sizeof(buffer)) != nullptr) {
        text = std::string("IP:") + buffer;
      }
    }
    if (text.empty()) continue;
    if (!out.empty()) out += ',';
    out += text;
  }
  GENERAL_NAMES_free(names);
  return out.empty() ? "none" : out;
}

}  // namespace

Result<TlsMaterial> LoadTls(const TlsFiles& files) {
  if (files.cert_file.empty() && !files.key_file.empty()) {
    return FlagError("tls_cert",
                     "--tls_key is set but --tls_cert is not; TLS needs both "
                     "(the PEM certificate chain and its private key)");
  }
  if (!files.cert_file.empty() && files.key_file.empty()) {
    return FlagError("tls_key",
                     "--tls_cert is set but --tls_key is not; TLS needs both "
                     "(the PEM certificate chain and its private key)");
  }
  if (files.cert_file.empty() && !files.client_ca_file.empty()) {
    return FlagError("tls_client_ca",
                     "--tls_client_ca needs --tls_cert and --tls_key "
                     "(client certificates are checked over TLS only)");
  }
  TlsMaterial material;

  Result<std::string> cert_pem = ReadFile("tls_cert", files.cert_file);
  if (!cert_pem.ok()) return cert_pem.error();
  material.cert_chain_pem = std::move(cert_pem.value());
  Result<std::vector<X509Ptr>> chain =
      ParseCertificates("tls_cert", files.cert_file, material.cert_chain_pem);
  if (!chain.ok()) return chain.error();
  X509* leaf = chain.value().front().get();

  Result<std::string> key_pem = ReadFile("tls_key", files.key_file);
  if (!key_pem.ok()) return key_pem.error();
  material.private_key_pem = std::move(key_pem.value());
  const std::string key_where = "--tls_key=" + files.key_file;
  if (material.private_key_pem.find("ENCRYPTED") != std::string::npos) {
    return FlagError("tls_key",
                     key_where +
                         " is encrypted; give an unencrypted key (e.g. "
                         "openssl pkey -in KEY -out PLAIN_KEY) and protect it "
                         "with file permissions");
  }
  ERR_clear_error();
  BioPtr key_bio = MemoryBio(material.private_key_pem);
  PkeyPtr key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return FlagError("tls_key", key_where +
                                    " holds no usable PEM private key (" +
                                    LastOpenSslError() + ")");
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return FlagError("tls_key", key_where +
                                    " does not belong to the certificate in "
                                    "--tls_cert=" +
                                    files.cert_file);
  }

  if (!files.client_ca_file.empty()) {
    Result<std::string> ca_pem =
        ReadFile("tls_client_ca", files.client_ca_file);
    if (!ca_pem.ok()) return ca_pem.error();
    Result<std::vector<X509Ptr>> cas = ParseCertificates(
        "tls_client_ca", files.client_ca_file, ca_pem.value());
    if (!cas.ok()) return cas.error();
    material.client_ca_pem = std::move(ca_pem.value());
  }

  material.description = "cert=" + files.cert_file + " subject=\"" +
                         SubjectText(leaf) + "\" san=" + SubjectAltNames(leaf) +
                         " not_after=\"" + TimeText(X509_get0_notAfter(leaf)) +
                         "\"";
  if (!files.client_ca_file.empty()) {
    material.description += " client_ca=" + files.client_ca_file +
                            " (client certificates required)";
  }
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
    spdlog::warn(
        "tls certificate --tls_cert={} expired on {}; clients will "
        "refuse it",
        files.cert_file, TimeText(X509_get0_notAfter(leaf)));
  } else if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
    spdlog::warn("tls certificate --tls_cert={} is not valid before {}",
                 files.cert_file, TimeText(X509_get0_notBefore(leaf)));
  }
  return material;
}

Result<std::shared_ptr<ssl::context>> MakeServerTlsContext(
    const TlsMaterial& material) {
  const char* step = "tls_cert";
  try {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = context->native_handle();
    context->set_options(ssl::context::default_workarounds |
                         ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    context->set_password_callback(
        [](std::size_t, ssl::context::password_purpose) {
          return std::string();
        });
    context->use_certificate_chain(
        boost::asio::buffer(material.cert_chain_pem));
    step = "tls_key";
    context->use_private_key(boost::asio::buffer(material.private_key_pem),
                             ssl::context::pem);
    SSL_CTX_set_session_id_context(
        native,
        reinterpret_cast<const unsigned char*>(kSessionIdContext.data()),
        static_cast<unsigned int>(kSessionIdContext.size()));
    if (material.require_client_cert()) {
      step = "tls_client_ca";
      context->add_certificate_authority(
          boost::asio::buffer(material.client_ca_pem));
      context->set_verify_mode(ssl::verify_peer |
                               ssl::verify_fail_if_no_peer_cert);
      // Name the accepted CAs in the handshake, so a client holding several
      // certificates can pick the right one.
      Result<std::vector<X509Ptr>> cas =
          ParseCertificates(step, "", material.client_ca_pem);
      if (cas.ok()) {
        for (const X509Ptr& ca : cas.value()) {
          SSL_CTX_add_client_CA(native, ca.get());
        }
      }
    }
    return context;
  } catch (const boost::system::system_error& e) {
    return FlagError(step, std::string("cannot use it for HTTPS: ") + e.what());
  }
}

}  // namespace impulse::edge
