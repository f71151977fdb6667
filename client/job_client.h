// The CLI's connection to an impulsed server: JobService calls with the
// --timeout deadline, result assembly from GetResult chunks, and following a
// job's events to its terminal event across dropped streams.
#ifndef IMPULSE_CLIENT_JOB_CLIENT_H_
#define IMPULSE_CLIENT_JOB_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "impulse/v1/jobs.grpc.pb.h"

namespace impulse::cli {

bool IsTerminal(v1::JobState state);
bool IsTerminalEvent(const v1::JobEvent& event);

class JobClient {
 public:
  // Called for every event in order; events are never repeated, even across
  // a resumed stream.
  using EventHandler = std::function<void(const v1::JobEvent&)>;
  // Called with a human-readable line when a dropped stream is resumed.
  using NoticeHandler = std::function<void(const std::string&)>;

  // `target` is HOST:PORT; `timeout` is the deadline of each call that does
  // not follow a job (everything except Run and Watch).
  // `token`: the bearer token sent with every call ("" = none);
  // `credentials`: plaintext or TLS (client/tls_options.h).
  JobClient(const std::string& target, std::chrono::milliseconds timeout,
            const std::string& token = "",
            std::shared_ptr<grpc::ChannelCredentials> credentials =
                grpc::InsecureChannelCredentials());

  const std::string& target() const { return target_; }

  grpc::Status Submit(const v1::JobSpec& spec, v1::Job* job);
  grpc::Status Get(const std::string& id, v1::Job* job);
  grpc::Status List(const v1::ListJobsRequest& request,
                    v1::ListJobsResponse* response);
  grpc::Status Cancel(const std::string& id, v1::Job* job);
  // Deletes a finished job; `job` is the job as it was.
  grpc::Status Delete(const std::string& id, v1::Job* job);
  // Streams GetResult and assembles the chunks into one JobResult.
  grpc::Status FetchResult(const std::string& id, v1::JobResult* result);
  // Get, then FetchResult when the result was too large to inline.
  grpc::Status GetWithResult(const std::string& id, v1::Job* job);

  // Where following a job ended.
  struct FollowResult {
    std::string job_id;
    v1::JobState state = v1::JOB_STATE_UNSPECIFIED;  // terminal when OK
    std::uint64_t last_seq = 0;  // of the last event handled
    bool terminal = false;
  };

  // Run(spec), then the job's events until its terminal event. When the
  // stream drops (UNAVAILABLE, or it ends early) after the job id is known,
  // resumes with Watch from the last event seen, a few times with backoff.
  // Returns OK once the job is known to be finished; `result->state` is
  // then its terminal state.
  grpc::Status FollowRun(const v1::JobSpec& spec, const EventHandler& on_event,
                         const NoticeHandler& on_notice, FollowResult* result);
  // Watch(id, after_seq) until the terminal event, resuming like FollowRun.
  // Watching past a finished job's last event ends at once (OK).
  grpc::Status FollowWatch(const std::string& id, std::uint64_t after_seq,
                           const EventHandler& on_event,
                           const NoticeHandler& on_notice,
                           FollowResult* result);

 private:
  using StreamProgress = FollowResult;
  grpc::Status Drain(grpc::ClientReaderInterface<v1::JobEvent>& reader,
                     StreamProgress& progress, const EventHandler& on_event);
  grpc::Status Resume(grpc::Status status, StreamProgress& progress,
                      const EventHandler& on_event,
                      const NoticeHandler& on_notice);
  void SetDeadline(grpc::ClientContext& context) const;
  grpc::Status Annotate(grpc::Status status) const;

  std::string target_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> stub_;
};

}  // namespace impulse::cli

#endif  // IMPULSE_CLIENT_JOB_CLIENT_H_
