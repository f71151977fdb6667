// Helpers shared by the subcommand implementations: error reporting with the
// CLI's exit statuses, and the client the global flags describe.
#ifndef IMPULSE_CLIENT_COMMAND_UTIL_H_
#define IMPULSE_CLIENT_COMMAND_UTIL_H_

#include <grpcpp/support/status.h>

#include <memory>
#include <string>

#include "client/commands.h"
#include "client/job_client.h"

namespace impulse::cli {

// Prints "error: <message>" and returns kExitUsage.
int UsageError(const std::string& message);
// Prints "error: CODE: message" and returns kExitRpcError.
int RpcError(const grpc::Status& status);
// 0 for SUCCEEDED, 1 for FAILED and CANCELLED (and anything else).
int ExitForState(v1::JobState state);
std::unique_ptr<JobClient> MakeClient(const GlobalOptions& global);
// Writes `text` and a newline to stdout and flushes.
void PrintLine(const std::string& text);

}  // namespace impulse::cli

#endif  // IMPULSE_CLIENT_COMMAND_UTIL_H_
