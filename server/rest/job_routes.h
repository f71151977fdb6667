// The /v1/jobs routes: each turns an HTTP request into a JobManager call and
// its answer into a Reply (protobuf JSON, an error, or an event stream), for
// the caller's tenant (from its token; "" without tokens). No sockets here;
// the session sends what these return.
#pragma once

#include <string>
#include <string_view>

#include "server/core/async_submit.h"
#include "server/core/job_manager.h"
#include "server/rest/http_options.h"
#include "server/rest/http_types.h"
#include "server/rest/reply.h"
#include "server/rest/target.h"

namespace impulse::rest {

class JobRoutes {
 public:
  JobRoutes(core::JobManager& manager, const HttpOptions& options)
      : manager_(manager), options_(options) {}

  // POST /v1/jobs: body is a JobSpec; a SubmitReply, whose answer is the Job.
  Reply Submit(const Request& request, const std::string& tenant) const;
  // POST /v1/jobs:run: Submit, answered with the job's events as SSE.
  Reply Run(const Request& request, const std::string& tenant) const;
  // GET /v1/jobs?state=&label=k:v&page_size=&page_token=
  Reply List(const Target& target, const std::string& tenant) const;
  // GET /v1/jobs/{id}
  Reply Get(std::string_view id, const std::string& tenant) const;
  // POST /v1/jobs/{id}:cancel
  Reply Cancel(std::string_view id, const std::string& tenant) const;
  // DELETE /v1/jobs/{id}: removes a finished job; answers it as it was.
  Reply Delete(std::string_view id, const std::string& tenant) const;
  // GET /v1/jobs/{id}/result: the whole JobResult, streamed when large.
  Reply GetResult(std::string_view id, const std::string& tenant) const;
  // GET /v1/jobs/{id}/events[?after_seq=N], or Last-Event-ID: N.
  Reply Events(std::string_view id, const Request& request,
               const Target& target, const std::string& tenant) const;

 private:
  Result<v1::JobSpec> ParseSpec(const Request& request) const;

  core::JobManager& manager_;
  const HttpOptions& options_;
};

// The answer to a SubmitReply once the job manager took (or refused) it.
Reply AnswerSubmit(const SubmitReply& submit, core::SubmitAnswer answer);

}  // namespace impulse::rest
