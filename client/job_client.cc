#include "client/job_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "client/channel.h"
#include "client/job_format.h"

namespace impulse::cli {
namespace {

// Resuming a dropped event stream: attempts and backoff (about 20 s in all,
// enough for a server restart).
constexpr int kMaxResumes = 8;
constexpr std::chrono::milliseconds kFirstBackoff{250};
constexpr std::chrono::milliseconds kMaxBackoff{4000};

bool Retryable(const grpc::Status& status) {
  // OK here means the stream ended before the terminal event (e.g. the
  // server drained its calls on shutdown).
  return status.ok() || status.error_code() == grpc::StatusCode::UNAVAILABLE;
}

// Adds one GetResult chunk to the result assembled so far.
grpc::Status AppendChunk(const v1::ResultChunk& chunk, v1::JobResult* result) {
  const v1::JobResult& part = chunk.result();
  if (chunk.index() == 0 || !part.has_particles()) {
    if (chunk.index() == 0) {
      *result = part;
    } else {
      result->MergeFrom(part);
    }
    return grpc::Status::OK;
  }
  // Particles arrive as slices; each must continue where the last ended.
  v1::ParticlesResult* whole = result->mutable_particles();
  const v1::ParticlesResult& slice = part.particles();
  const std::uint64_t have = whole->offset() + whole->x_size();
  if (slice.offset() != have || slice.x_size() != slice.y_size()) {
    return grpc::Status(
        grpc::StatusCode::DATA_LOSS,
        fmt::format("result chunk {} holds particles from {} but {} were "
                    "received",
                    chunk.index(), slice.offset(), have));
  }
  whole->mutable_x()->Add(slice.x().begin(), slice.x().end());
  whole->mutable_y()->Add(slice.y().begin(), slice.y().end());
  return grpc::Status::OK;
}

}  // namespace

bool IsTerminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED ||
         state == v1::CANCELLED;
}

bool IsTerminalEvent(const v1::JobEvent& event) {
  return event.type() == v1::STATE_CHANGED && IsTerminal(event.state());
}

JobClient::JobClient(const std::string& target,
                     std::chrono::milliseconds timeout,
                     const std::string& token,
                     std::shared_ptr<grpc::ChannelCredentials> credentials)
    : target_(target), timeout_(timeout) {
  channel_ = OpenChannel(target, token, std::move(credentials));
  stub_ = v1::JobService::NewStub(channel_);
}

void JobClient::SetDeadline(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
}

grpc::Status JobClient::Annotate(grpc::Status status) const {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return grpc::Status(
        status.error_code(),
        fmt::format("{} (server {})", status.error_message(), target_));
  }
  return status;
}

grpc::Status JobClient::Submit(const v1::JobSpec& spec, v1::Job* job) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::SubmitRequest request;
  *request.mutable_spec() = spec;
  return Annotate(stub_->Submit(&context, request, job));
}

grpc::Status JobClient::Get(const std::string& id, v1::Job* job) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::GetJobRequest request;
  request.set_id(id);
  return Annotate(stub_->Get(&context, request, job));
}

grpc::Status JobClient::List(const v1::ListJobsRequest& request,
                             v1::ListJobsResponse* response) {
  grpc::ClientContext context;
  SetDeadline(context);
  return Annotate(stub_->List(&context, request, response));
}

grpc::Status JobClient::Cancel(const std::string& id, v1::Job* job) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::CancelJobRequest request;
  request.set_id(id);
  return Annotate(stub_->Cancel(&context, request, job));
}

grpc::Status JobClient::Delete(const std::string& id, v1::Job* job) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::DeleteJobRequest request;
  request.set_id(id);
  return Annotate(stub_->Delete(&context, request, job));
}

grpc::Status JobClient::FetchResult(const std::string& id,
                                    v1::JobResult* result) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::GetResultRequest request;
  request.set_id(id);
  std::unique_ptr<grpc::ClientReader<v1::ResultChunk>> reader =
      stub_->GetResult(&context, request);
  result->Clear();
  v1::ResultChunk chunk;
  std::uint32_t next_index = 0;
  bool saw_last = false;
  grpc::Status assembly = grpc::Status::OK;
  while (reader->Read(&chunk)) {
    if (!assembly.ok()) continue;
    if (chunk.index() != next_index || saw_last) {
      assembly = grpc::Status(
          grpc::StatusCode::DATA_LOSS,
          fmt::format("result chunk {} arrived where {} was expected",
                      chunk.index(), next_index));
      context.TryCancel();
      continue;
    }
    assembly = AppendChunk(chunk, result);
    if (!assembly.ok()) context.TryCancel();
    ++next_index;
    saw_last = chunk.last();
  }
  grpc::Status status = reader->Finish();
  if (!assembly.ok()) return assembly;
  if (!status.ok()) return Annotate(status);
  if (!saw_last) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        "the result stream ended before its last chunk");
  }
  if (result->has_particles()) result->mutable_particles()->set_offset(0);
  // Row blocks were concatenated: the whole result starts at 0.
  if (result->has_distance_matrix()) {
    v1::DistanceMatrixResult* m = result->mutable_distance_matrix();
    m->set_row_offset(0);
    m->set_rows(m->n() == 0 ? 0 : m->values_size() / m->n());
  }
  if (result->has_knn()) {
    v1::KnnResult* k = result->mutable_knn();
    k->set_query_offset(0);
    k->set_queries(k->k() == 0 ? 0 : k->indices_size() / k->k());
  }
  if (result->has_table()) result->mutable_table()->set_row_offset(0);
  return grpc::Status::OK;
}

grpc::Status JobClient::GetWithResult(const std::string& id, v1::Job* job) {
  grpc::Status status = Get(id, job);
  if (!status.ok()) return status;
  if (job->state() == v1::SUCCEEDED && !job->has_result() &&
      job->result_bytes() > 0) {
    return FetchResult(id, job->mutable_result());
  }
  return grpc::Status::OK;
}

grpc::Status JobClient::Drain(grpc::ClientReaderInterface<v1::JobEvent>& reader,
                              StreamProgress& progress,
                              const EventHandler& on_event) {
  v1::JobEvent event;
  while (reader.Read(&event)) {
    if (progress.job_id.empty()) progress.job_id = event.job_id();
    if (progress.terminal || event.seq() <= progress.last_seq) continue;
    progress.last_seq = event.seq();
    progress.state = event.state();
    progress.terminal = IsTerminalEvent(event);
    on_event(event);
  }
  return reader.Finish();
}

grpc::Status JobClient::Resume(grpc::Status status, StreamProgress& progress,
                               const EventHandler& on_event,
                               const NoticeHandler& on_notice) {
  std::chrono::milliseconds backoff = kFirstBackoff;
  for (int attempt = 1; !progress.terminal; ++attempt) {
    if (status.ok() && !progress.job_id.empty()) {
      // The stream ended cleanly short of a terminal event: either the job
      // finished at or before `last_seq` (watching past its end), or the
      // server let go of the call (shutdown); Get tells which.
      v1::Job job;
      if (Get(progress.job_id, &job).ok() && IsTerminal(job.state()) &&
          job.last_seq() <= progress.last_seq) {
        progress.state = job.state();
        progress.terminal = true;
        break;
      }
    }
    if (!Retryable(status) || progress.job_id.empty() ||
        attempt > kMaxResumes) {
      if (status.ok()) {
        status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "the event stream ended before the job's "
                              "terminal event");
      }
      return Annotate(status);
    }
    if (on_notice) {
      on_notice(fmt::format(
          "lost the event stream of job {} ({}); resuming after event {} in "
          "{} ms (try {} of {})",
          progress.job_id, FormatStatus(status), progress.last_seq,
          backoff.count(), attempt, kMaxResumes));
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
    grpc::ClientContext context;
    v1::WatchRequest request;
    request.set_id(progress.job_id);
    request.set_after_seq(progress.last_seq);
    auto reader = stub_->Watch(&context, request);
    status = Drain(*reader, progress, on_event);
  }
  return grpc::Status::OK;
}

grpc::Status JobClient::FollowRun(const v1::JobSpec& spec,
                                  const EventHandler& on_event,
                                  const NoticeHandler& on_notice,
                                  FollowResult* result) {
  *result = FollowResult{};
  grpc::ClientContext context;
  v1::RunRequest request;
  *request.mutable_spec() = spec;
  auto reader = stub_->Run(&context, request);
  grpc::Status status = Drain(*reader, *result, on_event);
  return Resume(std::move(status), *result, on_event, on_notice);
}

grpc::Status JobClient::FollowWatch(const std::string& id,
                                    std::uint64_t after_seq,
                                    const EventHandler& on_event,
                                    const NoticeHandler& on_notice,
                                    FollowResult* result) {
  *result = FollowResult{};
  result->job_id = id;
  result->last_seq = after_seq;
  grpc::ClientContext context;
  v1::WatchRequest request;
  request.set_id(id);
  request.set_after_seq(after_seq);
  auto reader = stub_->Watch(&context, request);
  grpc::Status status = Drain(*reader, *result, on_event);
  return Resume(std::move(status), *result, on_event, on_notice);
}

}  // namespace impulse::cli
