// Bearer-token authentication shared by the gRPC and REST front ends.
//
// --auth_tokens=FILE holds one "TENANT TOKEN" pair per line ('#' starts a
// comment; blank lines are skipped). Tenants are 1..64 characters from
// A-Z a-z 0-9 _ -; tokens at least 16 printable characters without spaces.
// Several tokens may map to the same tenant (rotation). Only SHA-256
// digests of the tokens are kept, and a presented token is compared with
// every entry in constant time, so neither the time taken nor the logs
// (tokens are never logged) tell anything about a token.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "compute/common/status.h"

namespace impulse::edge {

class TokenAuth {
 public:
  // Reads and checks the file; errors name the file and the line.
  static Result<std::shared_ptr<const TokenAuth>> Load(const std::string& path);
  // The same from (tenant, token) pairs (tests, embedding).
  static Result<std::shared_ptr<const TokenAuth>> FromPairs(
      const std::vector<std::pair<std::string, std::string>>& pairs);

  // The tenant of an "Authorization: Bearer <token>" value (gRPC metadata
  // "authorization" or the HTTP header), else kUnauthenticated.
  Result<std::string> Authenticate(std::string_view authorization) const;

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    std::string tenant;
  };
  std::vector<Entry> entries_;
};

// Whether `host` (of HOST:PORT) is a loopback address: without tokens the
// server only listens there unless --insecure says otherwise.
bool IsLoopbackHost(std::string_view host);

}  // namespace impulse::edge
