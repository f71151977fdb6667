// What a route answers: a complete response, a job to submit, a job's event
// stream or the live system monitor (sent as Server-Sent Events by the
// session), or a response whose body is produced in pieces and sent with
// chunked transfer encoding (large job results).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "server/core/job_manager.h"
#include "server/core/job_record.h"
#include "server/core/metrics_feed.h"
#include "server/rest/http_types.h"

namespace impulse::rest {

// POST /v1/jobs and /v1/jobs:run with a well-formed spec: the session
// submits it with core::AsyncSubmit, so its io thread never waits for the
// journal's commit, and answers with AnswerSubmit (job_routes.h).
struct SubmitReply {
  v1::JobSpec spec;
  std::string tenant;
  bool stream = false;  // :run: answer with the job's event stream
};

struct EventStreamReply {
  std::shared_ptr<core::JobRecord> job;
  std::uint64_t after_seq = 0;  // send events with seq > after_seq
};

// GET /v1/metrics/stream: MetricsSample events until the client leaves.
struct MetricsStreamReply {
  const core::JobManager* manager = nullptr;
  core::MetricsFeed::Options options;
};

struct ChunkedReply {
  Response head;  // status and headers; its body is not sent
  // The next piece of the body, or nullopt at the end. Runs on the session's
  // executor between writes, so only the piece in flight is in memory.
  std::function<std::optional<std::string>()> next_piece;
};

using Reply = std::variant<Response, SubmitReply, EventStreamReply,
                           MetricsStreamReply, ChunkedReply>;

struct Routed {
  Reply reply;
  // The matched route template, e.g. "/v1/jobs/{id}" ("other" when none):
  // a metrics label of bounded cardinality.
  std::string_view route;
};

}  // namespace impulse::rest
