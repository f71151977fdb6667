#include "server/rest/job_routes.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>

#include "server/core/event_log.h"
#include "server/rest/json_errors.h"
#include "server/rest/proto_json.h"

namespace impulse::rest {
namespace {

Response JobResponse(const core::JobRecord& job) {
  return JsonResponse(http::status::ok, ToJson(job.ToProto(true)));
}

// The JSON array elements of one repeated double field, e.g. "0.1,0.2", in
// protobuf's own number formatting.
std::string JsonNumbers(const google::protobuf::RepeatedField<double>& values) {
  v1::ParticlesResult slice;
  slice.mutable_x()->CopyFrom(values);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(slice, &json);
  // json is {"x":[...]}.
  constexpr std::string_view kOpen = "{\"x\":[";
  if (json.size() < kOpen.size() + 2 || json.compare(0, kOpen.size(), kOpen)) {
    return "";
  }
  return json.substr(kOpen.size(), json.size() - kOpen.size() - 2);
}

// Streams a particles result given in chunks as one JobResult JSON object:
// {"particles":{"x":[...],"y":[...],"offset":"0","totalParticles":"N",
// "steps":"S"}}, producing one chunk's numbers per piece.
ChunkedReply StreamParticles(std::vector<v1::ResultChunk> chunks) {
  struct State {
    std::vector<v1::ResultChunk> chunks;
    int phase = 0;  // 0 open, 1 x, 2 between, 3 y, 4 close, 5 done
    std::size_t next = 0;
    bool wrote_any = false;
  };
  auto state = std::make_shared<State>();
  state->chunks = std::move(chunks);
  ChunkedReply reply;
  reply.head = Response{http::status::ok, 11};
  reply.head.set(http::field::content_type, "application/json");
  reply.next_piece = [state]() -> std::optional<std::string> {
    State& s = *state;
    for (;;) {
      switch (s.phase) {
        case 0:
          s.phase = 1;
          return std::string(R"({"particles":{"x":[)");
        case 1:
        case 3: {
          if (s.next == s.chunks.size()) {
            s.next = 0;
            s.wrote_any = false;
            s.phase += 1;
            continue;
          }
          const v1::ParticlesResult& part =
              s.chunks[s.next++].result().particles();
          std::string numbers = JsonNumbers(s.phase == 1 ? part.x() : part.y());
          if (numbers.empty()) continue;
          if (s.wrote_any) numbers.insert(numbers.begin(), ',');
          s.wrote_any = true;
          return numbers;
        }
        case 2:
          s.phase = 3;
          return std::string(R"(],"y":[)");
        case 4: {
          s.phase = 5;
          const v1::ParticlesResult& first =
              s.chunks.front().result().particles();
          return R"(],"offset":"0","totalParticles":")" +
                 std::to_string(first.total_particles()) + R"(","steps":")" +
                 std::to_string(first.steps()) + R"("}})";
        }
        default:
          return std::nullopt;
      }
    }
  };
  return reply;
}

}  // namespace

Result<v1::JobSpec> JobRoutes::ParseSpec(const Request& request) const {
  std::string_view body = request.body();
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Error::InvalidArgument(
        "spec",
        "request body is empty; send a JobSpec as JSON, e.g. "
        R"({"pi": {"samples": "1000000"}})");
  }
  v1::JobSpec spec;
  if (Status status = FromJson(body, &spec, "spec"); !status.ok()) {
    return status.error();
  }
  return spec;
}

Reply JobRoutes::Submit(const Request& request,
                        const std::string& tenant) const {
  Result<v1::JobSpec> spec = ParseSpec(request);
  if (!spec.ok()) return ErrorResponse(spec.error());
  return SubmitReply{std::move(spec.value()), tenant, /*stream=*/false};
}

Reply JobRoutes::Run(const Request& request, const std::string& tenant) const {
  Result<v1::JobSpec> spec = ParseSpec(request);
  if (!spec.ok()) return ErrorResponse(spec.error());
  return SubmitReply{std::move(spec.value()), tenant, /*stream=*/true};
}

Reply AnswerSubmit(const SubmitReply& submit, core::SubmitAnswer answer) {
  if (!answer.ok()) return ErrorResponse(answer.error());
  if (submit.stream) return EventStreamReply{std::move(answer.value()), 0};
  return JobResponse(*answer.value());
}

Reply JobRoutes::List(const Target& target, const std::string& tenant) const {
  v1::ListJobsRequest list;
  for (const auto& [name, value] : target.query) {
    if (name == "state") {
      std::string upper = value;
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      v1::JobState state;
      if (!v1::JobState_Parse(upper, &state)) {
        return ErrorResponse(Error::InvalidArgument(
            "state", "unknown state '" + value +
                         "'; use QUEUED, RUNNING, SUCCEEDED, FAILED or "
                         "CANCELLED"));
      }
      list.set_state(state);
    } else if (name == "label") {
      const std::size_t colon = value.find(':');
      if (colon == std::string::npos || colon == 0) {
        return ErrorResponse(Error::InvalidArgument(
            "label", "'" + value + "' is not key:value"));
      }
      (*list.mutable_labels())[value.substr(0, colon)] =
          value.substr(colon + 1);
    } else if (name == "page_size") {
      Result<std::int32_t> size = ParseInt<std::int32_t>(value, "page_size");
      if (!size.ok()) return ErrorResponse(size.error());
      list.set_page_size(size.value());
    } else if (name == "page_token") {
      list.set_page_token(value);
    } else {
      return ErrorResponse(
          UnknownParameter(name, "state, label, page_size and page_token"));
    }
  }
  auto page = manager_.List(list, tenant);
  if (!page.ok()) return ErrorResponse(page.error());
  return JsonResponse(http::status::ok, ToJson(page.value()));
}

Reply JobRoutes::Get(std::string_view id, const std::string& tenant) const {
  auto job = manager_.Find(std::string(id), tenant);
  if (!job.ok()) return ErrorResponse(job.error());
  return JobResponse(*job.value());
}

Reply JobRoutes::Cancel(std::string_view id, const std::string& tenant) const {
  auto job = manager_.Cancel(std::string(id), tenant);
  if (!job.ok()) return ErrorResponse(job.error());
  return JobResponse(*job.value());
}

Reply JobRoutes::Delete(std::string_view id, const std::string& tenant) const {
  auto job = manager_.Delete(std::string(id), tenant);
  if (!job.ok()) return ErrorResponse(job.error());
  return JsonResponse(http::status::ok, ToJson(job.value()));
}

Reply JobRoutes::GetResult(std::string_view id,
                           const std::string& tenant) const {
  auto chunks = manager_.ResultChunks(std::string(id),
                                      options_.result_chunk_bytes, tenant);
  if (!chunks.ok()) return ErrorResponse(chunks.error());
  std::vector<v1::ResultChunk>& parts = chunks.value();
  if (parts.size() == 1) {
    return JsonResponse(http::status::ok, ToJson(parts.front().result()));
  }
  return StreamParticles(std::move(parts));
}

Reply JobRoutes::Events(std::string_view id, const Request& request,
                        const Target& target, const std::string& tenant) const {
  std::uint64_t after_seq = 0;
  for (const auto& [name, value] : target.query) {
    if (name != "after_seq") {
      return ErrorResponse(UnknownParameter(name, "after_seq"));
    }
    Result<std::uint64_t> seq = ParseInt<std::uint64_t>(value, "after_seq");
    if (!seq.ok()) return ErrorResponse(seq.error());
    after_seq = std::max(after_seq, seq.value());
  }
  // A reconnecting EventSource sends the id of the last event it saw.
  if (auto it = request.find("Last-Event-ID"); it != request.end()) {
    Result<std::uint64_t> seq =
        ParseInt<std::uint64_t>(it->value(), "Last-Event-ID");
    if (!seq.ok()) return ErrorResponse(seq.error());
    after_seq = std::max(after_seq, seq.value());
  }
  auto job = manager_.Find(std::string(id), tenant);
  if (!job.ok()) return ErrorResponse(job.error());
  core::EventLog& log = job.value()->events();
  if (log.closed() && after_seq >= log.last_seq()) {
    // The client has the terminal event already; 204 tells an EventSource
    // to stop reconnecting.
    return Response{http::status::no_content, 11};
  }
  return EventStreamReply{job.value(), after_seq};
}

}  // namespace impulse::rest
