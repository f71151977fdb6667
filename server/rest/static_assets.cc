#include "server/rest/static_assets.h"

#include <string>

#include "server/rest/json_errors.h"

namespace impulse::rest {
namespace {

constexpr std::string_view kStaticPrefix = "/static/";
constexpr std::string_view kIndex = "index.html";

// Same-origin only: the dashboard loads nothing from elsewhere and talks to
// the gateway that served it.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'";

// Whether an If-None-Match value ("*", or a list of entity tags, possibly
// weak) names `etag`.
bool ETagMatches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    const std::size_t comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    if_none_match = comma == std::string_view::npos
                        ? std::string_view()
                        : if_none_match.substr(comma + 1);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) {
      tag.remove_prefix(1);
    }
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) {
      tag.remove_suffix(1);
    }
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

}  // namespace

const StaticAsset* FindStaticAsset(std::string_view name) {
  for (const StaticAsset& asset : StaticAssets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

bool IsStaticPath(std::string_view path) {
  return path == "/" || path.starts_with(kStaticPrefix);
}

std::string_view StaticRoute(std::string_view path) {
  return path == "/" ? "/" : "/static/{file}";
}

Response StaticResponse(std::string_view path, const Request& request) {
  const std::string_view name =
      path == "/" ? kIndex : path.substr(kStaticPrefix.size());
  const StaticAsset* asset = name.find('/') == std::string_view::npos
                                 ? FindStaticAsset(name)
                                 : nullptr;
  if (asset == nullptr) {
    return HttpErrorResponse(
        http::status::not_found, "NOT_FOUND",
        "no static file '" + std::string(path) + "'; the dashboard is at /");
  }
  const bool not_modified =
      ETagMatches(request[http::field::if_none_match], asset->etag);
  Response res{not_modified ? http::status::not_modified : http::status::ok,
               request.version()};
  res.set(http::field::content_type, asset->content_type);
  res.set(http::field::etag, asset->etag);
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  if (asset->name == kIndex) {
    res.set("Content-Security-Policy", kContentSecurityPolicy);
    res.set("Referrer-Policy", "no-referrer");
  }
  if (!not_modified) res.body() = std::string(asset->body);
  return res;
}

}  // namespace impulse::rest
