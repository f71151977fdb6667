// Maps a parsed HTTP request to a Reply, like Beast's handle_request: pure
// (it never touches a socket), so every route is testable without a network.
// Unknown paths answer 404, known paths with another method 405 with Allow.
#pragma once

#include <functional>

#include "server/core/job_manager.h"
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

  // HEAD is answered like GET without a body (the session drops it).
  Routed Handle(const Request& request) const;

 private:
  Reply Readyz() const;
  Reply Metrics() const;

  const HttpOptions& options_;
  const HttpMetrics& metrics_;
  const std::function<bool()> serving_;
  const JobRoutes jobs_;
};

}  // namespace impulse::rest
