#include "client/command_util.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "client/exit_code.h"
#include "client/job_format.h"

namespace impulse::cli {

int UsageError(const std::string& message) {
  fmt::print(stderr, "error: {}\n", message);
  return kExitUsage;
}

int RpcError(const grpc::Status& status) {
  fmt::print(stderr, "error: {}\n", FormatStatus(status));
  return kExitRpcError;
}

int ExitForState(v1::JobState state) {
  return state == v1::SUCCEEDED ? kExitOk : kExitJobFailed;
}

std::unique_ptr<JobClient> MakeClient(const GlobalOptions& global) {
  const auto timeout =
      std::chrono::milliseconds(std::llround(global.timeout_seconds * 1000.0));
  return std::make_unique<JobClient>(global.server, timeout, global.token,
                                     ChannelCredentials(global.tls));
}

void PrintLine(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace impulse::cli
