// Exit statuses of the impulse CLI; scripts rely on them.
#ifndef IMPULSE_CLIENT_EXIT_CODE_H_
#define IMPULSE_CLIENT_EXIT_CODE_H_

namespace impulse::cli {

inline constexpr int kExitOk = 0;         // job SUCCEEDED, or the call worked
inline constexpr int kExitJobFailed = 1;  // job FAILED or CANCELLED
inline constexpr int kExitUsage = 2;      // bad flags, spec file or input
inline constexpr int kExitRpcError = 3;   // server unreachable or RPC failed
inline constexpr int kExitInterrupted = 130;  // second Ctrl-C

}  // namespace impulse::cli

#endif  // IMPULSE_CLIENT_EXIT_CODE_H_
