#include "server/edge/token_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace impulse::edge {
namespace {

constexpr std::size_t kMinTokenBytes = 16;
constexpr std::size_t kMaxTokenBytes = 4096;
constexpr std::size_t kMaxTenantBytes = 64;

std::array<unsigned char, 32> Digest(std::string_view token) {
  std::array<unsigned char, 32> out;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
         out.data());
  return out;
}

bool ValidTenant(std::string_view tenant) {
  return !tenant.empty() && tenant.size() <= kMaxTenantBytes &&
         std::all_of(tenant.begin(), tenant.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '-';
         });
}

bool ValidToken(std::string_view token) {
  return token.size() >= kMinTokenBytes && token.size() <= kMaxTokenBytes &&
         std::all_of(token.begin(), token.end(),
                     [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

Error Unauthenticated(std::string message) {
  return Error{ErrorCode::kUnauthenticated, std::move(message),
               "authorization"};
}

}  // namespace

Result<std::shared_ptr<const TokenAuth>> TokenAuth::FromPairs(
    const std::vector<std::pair<std::string, std::string>>& pairs) {
  auto auth = std::make_shared<TokenAuth>();
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& [tenant, token] = pairs[i];
    const std::string where = "entry " + std::to_string(i + 1);
    if (!ValidTenant(tenant)) {
      return Error::InvalidArgument(
          "auth_tokens", where +
                             ": tenant must be 1..64 characters from "
                             "A-Z a-z 0-9 _ -");
    }
    if (!ValidToken(token)) {
      return Error::InvalidArgument(
          "auth_tokens",
          where + " (tenant " + tenant +
              "): a token must be 16..4096 printable characters without "
              "spaces");
    }
    const std::array<unsigned char, 32> digest = Digest(token);
    for (const Entry& entry : auth->entries_) {
      if (entry.digest == digest) {
        return Error::InvalidArgument(
            "auth_tokens",
            where + " (tenant " + tenant + "): the same token is listed twice");
      }
    }
    auth->entries_.push_back(Entry{digest, tenant});
  }
  if (auth->entries_.empty()) {
    return Error::InvalidArgument("auth_tokens", "no tokens given");
  }
  return std::shared_ptr<const TokenAuth>(std::move(auth));
}

Result<std::shared_ptr<const TokenAuth>> TokenAuth::Load(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Error::InvalidArgument("auth_tokens", "cannot read '" + path + "'");
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (const std::size_t hash = line.find('#'); hash != std::string::npos) {
      line.erase(hash);
    }
    std::istringstream fields(line);
    std::string tenant, token, extra;
    if (!(fields >> tenant)) continue;  // blank or a comment
    if (!(fields >> token) || (fields >> extra)) {
      return Error::InvalidArgument(
          "auth_tokens",
          path + ":" + std::to_string(number) + ": expected 'TENANT TOKEN'");
    }
    pairs.emplace_back(std::move(tenant), std::move(token));
  }
  Result<std::shared_ptr<const TokenAuth>> auth = FromPairs(pairs);
  if (!auth.ok()) {
    Error error = auth.error();
    error.message = path + ": " + error.message;
    return error;
  }
  return auth;
}

Result<std::string> TokenAuth::Authenticate(
    std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.empty()) {
    return Unauthenticated(
        "this server needs a bearer token: send 'authorization: Bearer "
        "<token>' (impulse --token or IMPULSE_TOKEN)");
  }
  if (authorization.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                  [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) ==
                           std::tolower(static_cast<unsigned char>(b));
                  })) {
    return Unauthenticated("the authorization is not 'Bearer <token>'");
  }
  const std::array<unsigned char, 32> digest =
      Digest(authorization.substr(kBearer.size()));
  // Every entry is compared, whichever matches.
  const Entry* match = nullptr;
  for (const Entry& entry : entries_) {
    const bool equal =
        CRYPTO_memcmp(entry.digest.data(), digest.data(), digest.size()) == 0;
    if (equal) match = &entry;
  }
  if (match == nullptr) return Unauthenticated("unknown token");
  return match->tenant;
}

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

}  // namespace impulse::edge
