// Maps a parsed HTTP request to a Reply, like Beast's handle_request: pure
// (it never touches a socket), so every route is testable without a network.
// Unknown paths answer 404, known paths with another method 405 with Allow.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "server/core/job_manager.h"
#include "server/rest/dataset_routes.h"
#include "server/rest/http_metrics.h"
#include "server/rest/http_options.h"
#include "server/rest/http_types.h"
#include "server/rest/job_routes.h"
#include "server/rest/reply.h"

namespace impulse::rest {

class Router {
 public:
  // `serving` says whether the gateway still accepts work; /readyz uses it
  // when options.ready is empty. All references must outlive the router.
  Router(core::JobManager& manager, const HttpOptions& options,
         const HttpMetrics& metrics, std::function<bool()> serving);

  // HEAD is answered like GET without a body (the session drops it). A
  // job to submit comes back as a SubmitReply for the caller to submit.
  Routed Handle(const Request& request) const;
  // Handle, with a SubmitReply submitted and answered in this thread (for
  // callers without an event loop: tests and the fuzzer).
  Routed HandleBlocking(const Request& request) const;

  // Dataset uploads stream their body, so the session asks before reading
  // it: for PUT /v1/datasets/{name} the header of the upload and the
  // caller's tenant (or the error: a bad parameter, no valid token), else
  // nullopt.
  struct Upload {
    v1::DatasetHeader header;
    std::string tenant;
  };
  std::optional<Result<Upload>> MatchUpload(
      const http::request_header<>& head) const;
  static constexpr std::string_view kUploadRoute = "/v1/datasets/{name}";
  // The largest body a request may announce (an upload's limit).
  std::uint64_t max_request_bytes() const;
  core::JobManager& manager() const { return manager_; }

 private:
  Reply Readyz() const;
  Reply Metrics() const;
  // The caller's tenant from "Authorization: Bearer <token>" ("" when the
  // server has no tokens), or kUnauthenticated.
  Result<std::string> Authenticate(const http::request_header<>& head) const;

  core::JobManager& manager_;
  const HttpOptions& options_;
  const HttpMetrics& metrics_;
  const std::function<bool()> serving_;
  const JobRoutes jobs_;
  const DatasetRoutes datasets_;
};

}  // namespace impulse::rest
