// The /v1/datasets and /v1/indexes routes: list, look up and delete datasets,
// and query or autocomplete a named index. Uploads stream their body, so the
// session serves them (dataset_upload.h); UploadHeader reads the header of
// one from its target. No sockets here.
#pragma once

#include <string>
#include <string_view>

#include "server/core/job_manager.h"
#include "server/rest/http_types.h"
#include "server/rest/reply.h"
#include "server/rest/target.h"

namespace impulse::rest {

class DatasetRoutes {
 public:
  explicit DatasetRoutes(core::JobManager& manager) : manager_(manager) {}

  // GET /v1/datasets
  Reply List(const Target& target, const std::string& tenant) const;
  // GET /v1/datasets/{name}
  Reply Get(std::string_view name, const std::string& tenant) const;
  // DELETE /v1/datasets/{name}
  Reply Delete(std::string_view name, const std::string& tenant) const;
  // GET /v1/indexes/{name}:query?q=&offset=&limit=
  Reply Query(std::string_view index, const Target& target,
              const std::string& tenant) const;
  // GET /v1/indexes/{name}:complete?prefix=&n=
  Reply Complete(std::string_view index, const Target& target,
                 const std::string& tenant) const;

  // PUT /v1/datasets/{name}?format=&dims=&sha256=: the upload's header.
  static Result<v1::DatasetHeader> UploadHeader(std::string_view name,
                                                const Target& target);

 private:
  core::JobManager& manager_;
};

}  // namespace impulse::rest
