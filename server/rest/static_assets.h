// The dashboard's static files (server/rest/static/), compiled into the
// binary by the static_assets_data genrule (embed_static.py), and the answers
// the gateway gives for them: GET / is index.html, GET /static/<file> the
// file, each with its Content-Type, a strong ETag (304 on If-None-Match) and
// Cache-Control: no-cache, so a browser revalidates and never runs a stale
// dashboard against a newer server.
#pragma once

#include <span>
#include <string_view>

#include "server/rest/http_types.h"

namespace impulse::rest {

struct StaticAsset {
  std::string_view name;          // file name, e.g. "app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view etag;          // quoted, from the content's SHA-256
  std::string_view body;
};

// Every embedded file, by name (defined in the generated source).
std::span<const StaticAsset> StaticAssets();

// The asset called `name`; nullptr when there is none.
const StaticAsset* FindStaticAsset(std::string_view name);

// Whether the static handler answers `path` ("/" or "/static/...").
bool IsStaticPath(std::string_view path);

// The metrics route label of a static path: "/" or "/static/{file}".
std::string_view StaticRoute(std::string_view path);

// The answer to GET or HEAD of a static path: 200 with the file, 304 when
// If-None-Match names its ETag, a JSON 404 for an unknown file.
Response StaticResponse(std::string_view path, const Request& request);

}  // namespace impulse::rest
