// The impulse subcommands. Each returns the process exit status (see
// exit_code.h) and prints results on stdout, progress and errors on stderr.
#ifndef IMPULSE_CLIENT_COMMANDS_H_
#define IMPULSE_CLIENT_COMMANDS_H_

#include <string>
#include <vector>

#include "client/spec_from_flags.h"
#include "client/tls_options.h"

namespace impulse::cli {

struct GlobalOptions {
  std::string server = "127.0.0.1:50051";
  std::string token;  // bearer token for servers with --auth_tokens
  bool json = false;
  double timeout_seconds = 30;
  TlsOptions tls;  // plaintext unless --tls or a TLS file is given
};

struct ListOptions {
  std::string state;
  std::vector<std::string> labels;
  std::string page_size;
  std::string page_token;
  bool all = false;
};

// Unary calls (commands.cc).
int SubmitCommand(const GlobalOptions& global, const SpecFlags& flags);
int GetCommand(const GlobalOptions& global, const std::string& id);
int ListCommand(const GlobalOptions& global, const ListOptions& options);
int CancelCommand(const GlobalOptions& global, const std::string& id);
// Deletes each finished job; stops at the first error.
int DeleteCommand(const GlobalOptions& global,
                  const std::vector<std::string>& ids);
int ResultCommand(const GlobalOptions& global, const std::string& id,
                  const std::string& out_file);

// Following a job's events (follow_commands.cc).
int RunCommand(const GlobalOptions& global, const SpecFlags& flags, bool quiet);
int WatchCommand(const GlobalOptions& global, const std::string& id,
                 const std::string& after_seq);

}  // namespace impulse::cli

#endif  // IMPULSE_CLIENT_COMMANDS_H_
