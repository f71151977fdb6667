// Text the CLI prints: protobuf JSON, and human-readable jobs, events,
// results and gRPC errors.
#ifndef IMPULSE_CLIENT_JOB_FORMAT_H_
#define IMPULSE_CLIENT_JOB_FORMAT_H_

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/support/status.h>

#include <string>

#include "impulse/v1/jobs.pb.h"

namespace impulse::cli {

// Protobuf's JSON mapping (the REST gateway's too). `pretty` indents; without
// it the message is one line, for JSON-lines output.
std::string ToJson(const google::protobuf::Message& message, bool pretty);

// "INVALID_ARGUMENT", "UNAVAILABLE", ...
std::string StatusCodeName(grpc::StatusCode code);
// "INVALID_ARGUMENT: spec.pi.samples: must be at least 1"
std::string FormatStatus(const grpc::Status& status);

std::string KindName(const v1::JobSpec& spec);
// "pi samples=1000000 seed=7"
std::string DescribeSpec(const v1::JobSpec& spec);
// RFC 3339 UTC with milliseconds; "-" when unset.
std::string FormatTime(const google::protobuf::Timestamp& time);
// Seconds from `start` to `end`; negative when either is unset.
double SecondsBetween(const google::protobuf::Timestamp& start,
                      const google::protobuf::Timestamp& end);
// "1.23 s", "2 min 03 s", "1 h 02 min"
std::string FormatDuration(double seconds);
// SI-scaled count: "1.23 G", "456 M", "12.3 k", "17"
std::string FormatCount(double value);

// Multi-line description of a job for `get`.
std::string DescribeJob(const v1::Job& job);
// Short summary of a result ("pi ~ 3.14159 (hits / samples)"; particles and
// their first few final positions), several lines for particles.
std::string DescribeResult(const v1::JobResult& result);
// One line per event for `watch`.
std::string DescribeEvent(const v1::JobEvent& event);

}  // namespace impulse::cli

#endif  // IMPULSE_CLIENT_JOB_FORMAT_H_
