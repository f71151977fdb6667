#include "server/rest/router.h"

#include <algorithm>
#include <string_view>

#include "server/edge/error_mapping.h"
#include "server/rest/json_errors.h"
#include "server/rest/metrics_stream.h"
#include "server/rest/openapi.h"
#include "server/rest/static_assets.h"
#include "server/rest/target.h"

namespace impulse::rest {
namespace {

constexpr std::string_view kJobsPrefix = "/v1/jobs/";
constexpr std::string_view kDatasetsPrefix = "/v1/datasets/";
constexpr std::string_view kIndexesPrefix = "/v1/indexes/";

Reply MethodNotAllowed(const Request& request, std::string_view allow) {
  Response res =
      HttpErrorResponse(http::status::method_not_allowed, "METHOD_NOT_ALLOWED",
                        "method " + std::string(request.method_string()) +
                            " is not allowed here; use " + std::string(allow));
  res.set(http::field::allow, allow);
  return res;
}

Reply NotFound(std::string_view path) {
  return ErrorResponse(Error{
      ErrorCode::kNotFound,
      "no route for '" + std::string(path) + "'; see GET /v1/openapi.json",
      ""});
}

// A job id is one path segment.
bool ValidId(std::string_view id) {
  return !id.empty() && id.find_first_of("/:?") == std::string_view::npos;
}

}  // namespace

Router::Router(core::JobManager& manager, const HttpOptions& options,
               const HttpMetrics& metrics, std::function<bool()> serving)
    : manager_(manager),
      options_(options),
      metrics_(metrics),
      serving_(std::move(serving)),
      jobs_(manager, options),
      datasets_(manager) {}

Result<std::string> Router::Authenticate(
    const http::request_header<>& head) const {
  if (options_.auth == nullptr) return std::string();
  auto it = head.find(http::field::authorization);
  std::string_view value;
  if (it != head.end())
    value = std::string_view(it->value().data(), it->value().size());
  return options_.auth->Authenticate(value);
}

std::optional<Result<Router::Upload>> Router::MatchUpload(
    const http::request_header<>& head) const {
  if (head.method() != http::verb::put) return std::nullopt;
  Result<Target> parsed = ParseTarget(head.target());
  if (!parsed.ok()) return std::nullopt;  // Handle answers the 400
  const std::string_view path = parsed.value().path;
  if (!path.starts_with(kDatasetsPrefix)) return std::nullopt;
  const std::string_view name = path.substr(kDatasetsPrefix.size());
  if (!ValidId(name)) return std::nullopt;
  Result<std::string> tenant = Authenticate(head);
  if (!tenant.ok()) return Result<Upload>(tenant.error());
  Result<v1::DatasetHeader> header =
      DatasetRoutes::UploadHeader(name, parsed.value());
  if (!header.ok()) return Result<Upload>(header.error());
  return Result<Upload>(
      Upload{std::move(header.value()), std::move(tenant.value())});
}

std::uint64_t Router::max_request_bytes() const {
  return std::max<std::uint64_t>(
      options_.max_body_bytes, manager_.datasets().options().max_dataset_bytes);
}

Reply Router::Readyz() const {
  const bool ready = options_.ready ? options_.ready() : serving_();
  if (ready) return TextResponse(http::status::ok, "ready\n");
  Response res = TextResponse(http::status::service_unavailable,
                              "not ready: draining, starting, or the journal "
                              "failed (see the server log)\n");
  res.set(http::field::retry_after,
          std::to_string(edge::RetryAfterSeconds(ErrorCode::kUnavailable)));
  return res;
}

Reply Router::Metrics() const {
  std::string text = options_.metrics_text ? options_.metrics_text() : "";
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  // Request counts come from the process registry when it takes them.
  text += metrics_.Render(/*with_requests=*/!options_.on_request);
  return TextResponse(http::status::ok, std::move(text),
                      "text/plain; version=0.0.4; charset=utf-8");
}

Routed Router::HandleBlocking(const Request& request) const {
  Routed routed = Handle(request);
  if (const auto* submit = std::get_if<SubmitReply>(&routed.reply)) {
    routed.reply =
        AnswerSubmit(*submit, manager_.Submit(submit->spec, submit->tenant));
  }
  return routed;
}

Routed Router::Handle(const Request& request) const {
  Result<Target> parsed = ParseTarget(request.target());
  if (!parsed.ok()) return {ErrorResponse(parsed.error()), "other"};
  const Target& target = parsed.value();
  const std::string_view path = target.path;
  const http::verb method = request.method();
  const bool get = method == http::verb::get || method == http::verb::head;
  const bool post = method == http::verb::post;

  if (path == "/healthz") {
    if (!get) return {MethodNotAllowed(request, "GET, HEAD"), "/healthz"};
    return {TextResponse(http::status::ok, "ok\n"), "/healthz"};
  }
  if (path == "/readyz") {
    if (!get) return {MethodNotAllowed(request, "GET, HEAD"), "/readyz"};
    return {Readyz(), "/readyz"};
  }
  if (path == "/metrics") {
    if (!get) return {MethodNotAllowed(request, "GET, HEAD"), "/metrics"};
    return {Metrics(), "/metrics"};
  }
  if (path == "/v1/openapi.json") {
    if (!get) {
      return {MethodNotAllowed(request, "GET, HEAD"), "/v1/openapi.json"};
    }
    return {JsonResponse(http::status::ok, std::string(OpenApiJson())),
            "/v1/openapi.json"};
  }
  // Everything else under /v1/ acts for a tenant: its token must check out.
  std::string tenant;
  if (path.starts_with("/v1/")) {
    Result<std::string> caller = Authenticate(request);
    if (!caller.ok()) return {ErrorResponse(caller.error()), "unauthenticated"};
    tenant = std::move(caller.value());
  }
  if (path == "/v1/jobs") {
    if (post) return {jobs_.Submit(request, tenant), "/v1/jobs"};
    if (get) return {jobs_.List(target, tenant), "/v1/jobs"};
    return {MethodNotAllowed(request, "GET, HEAD, POST"), "/v1/jobs"};
  }
  if (path == "/v1/jobs:run") {
    if (post) return {jobs_.Run(request, tenant), "/v1/jobs:run"};
    return {MethodNotAllowed(request, "POST"), "/v1/jobs:run"};
  }
  if (path.starts_with(kJobsPrefix)) {
    std::string_view rest = path.substr(kJobsPrefix.size());
    if (rest.ends_with(":cancel")) {
      std::string_view id = rest.substr(0, rest.size() - 7);
      if (!ValidId(id)) return {NotFound(path), "other"};
      if (!post) {
        return {MethodNotAllowed(request, "POST"), "/v1/jobs/{id}:cancel"};
      }
      return {jobs_.Cancel(id, tenant), "/v1/jobs/{id}:cancel"};
    }
    if (rest.ends_with("/result")) {
      std::string_view id = rest.substr(0, rest.size() - 7);
      if (!ValidId(id)) return {NotFound(path), "other"};
      if (method != http::verb::get) {
        return {MethodNotAllowed(request, "GET"), "/v1/jobs/{id}/result"};
      }
      return {jobs_.GetResult(id, tenant), "/v1/jobs/{id}/result"};
    }
    if (rest.ends_with("/events")) {
      std::string_view id = rest.substr(0, rest.size() - 7);
      if (!ValidId(id)) return {NotFound(path), "other"};
      if (method != http::verb::get) {
        return {MethodNotAllowed(request, "GET"), "/v1/jobs/{id}/events"};
      }
      return {jobs_.Events(id, request, target, tenant),
              "/v1/jobs/{id}/events"};
    }
    if (ValidId(rest)) {
      if (method == http::verb::delete_) {
        return {jobs_.Delete(rest, tenant), "/v1/jobs/{id}"};
      }
      if (!get) {
        return {MethodNotAllowed(request, "GET, HEAD, DELETE"),
                "/v1/jobs/{id}"};
      }
      return {jobs_.Get(rest, tenant), "/v1/jobs/{id}"};
    }
  }
  if (path == "/v1/metrics/stream") {
    if (method != http::verb::get) {
      return {MethodNotAllowed(request, "GET"), "/v1/metrics/stream"};
    }
    return {MetricsStreamRoute(manager_, target), "/v1/metrics/stream"};
  }
  if (path == "/v1/datasets") {
    if (!get) return {MethodNotAllowed(request, "GET, HEAD"), "/v1/datasets"};
    return {datasets_.List(target, tenant), "/v1/datasets"};
  }
  if (path.starts_with(kDatasetsPrefix)) {
    std::string_view name = path.substr(kDatasetsPrefix.size());
    if (!ValidId(name)) return {NotFound(path), "other"};
    if (get) return {datasets_.Get(name, tenant), kUploadRoute};
    if (method == http::verb::delete_) {
      return {datasets_.Delete(name, tenant), kUploadRoute};
    }
    // (PUT is served by the session, which streams the body: MatchUpload.)
    return {MethodNotAllowed(request, "GET, HEAD, PUT, DELETE"), kUploadRoute};
  }
  if (path.starts_with(kIndexesPrefix)) {
    std::string_view rest = path.substr(kIndexesPrefix.size());
    const bool query = rest.ends_with(":query");
    const bool complete = rest.ends_with(":complete");
    std::string_view name = rest.substr(0, rest.size() - (query      ? 6
                                                          : complete ? 9
                                                                     : 0));
    if ((query || complete) && ValidId(name)) {
      const std::string_view route =
          query ? "/v1/indexes/{name}:query" : "/v1/indexes/{name}:complete";
      if (!get) return {MethodNotAllowed(request, "GET, HEAD"), route};
      return {query ? datasets_.Query(name, target, tenant)
                    : datasets_.Complete(name, target, tenant),
              route};
    }
    return {NotFound(path), "other"};
  }
  if (IsStaticPath(path)) {  // the dashboard: / and /static/<file>
    if (!get)
      return {MethodNotAllowed(request, "GET, HEAD"), StaticRoute(path)};
    return {StaticResponse(path, request), StaticRoute(path)};
  }
  return {NotFound(path), "other"};
}

}  // namespace impulse::rest
