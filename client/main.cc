// impulse: the command-line client of the Impulse job service. See --help.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "client/commands.h"
#include "client/dataset_commands.h"
#include "client/exit_code.h"
#include "client/flag_parsing.h"
#include "client/spec_from_flags.h"

namespace {

constexpr const char* kFooter = R"(
Global options may also follow the subcommand (impulse run pi ... --json).

Exit status: 0 job SUCCEEDED (or the call worked), 1 job FAILED or CANCELLED,
2 usage error, 3 server unreachable or the call failed.

Examples:
  impulse run pi --samples 1e9 --seed 7
  impulse run particles --random_particles 1000 --t_end 0.1 --device CPU
  impulse run particles --particle 0.3,0.5,1 --particle -0.1,-0.4,3 --t_end 0.1
  impulse run --spec job.json --json > job_result.json
  ID=$(impulse submit pi --samples 1e10 --label team=research)
  impulse watch "$ID"
  impulse list --state RUNNING --label team=research --all
  impulse result "$ID" --out positions.csv
  IMPULSE_SERVER=gpu-box:50051 impulse cancel "$ID"
  impulse rm "$ID"   # delete a finished job and its result

TLS (a server started with --tls_cert/--tls_key; HOST must match a name in
its certificate's subjectAltName):
  impulse --server impulse.example:50051 --tls list      # system roots
  impulse --server 127.0.0.1:50051 --tls_ca ca.pem run pi --samples 1e9
  impulse --tls_ca ca.pem --tls_cert me.pem --tls_key me.key list   # mTLS
  export IMPULSE_TLS_CA=ca.pem IMPULSE_TLS_CERT=me.pem IMPULSE_TLS_KEY=me.key)";

constexpr const char* kCommonNote = R"(
Global options go before or after the subcommand: --server HOST:PORT (env
IMPULSE_SERVER), --token TOKEN (env IMPULSE_TOKEN), --json, --timeout SECONDS,
and for TLS --tls, --tls_ca FILE, --tls_cert FILE --tls_key FILE (env
IMPULSE_TLS_CA, IMPULSE_TLS_CERT, IMPULSE_TLS_KEY). Exit status: 0 SUCCEEDED
or call worked, 1 FAILED or CANCELLED, 2 usage error, 3 server unreachable or
RPC error.)";

constexpr const char* kSubmitFooter = R"(
Prints the new job's id on stdout (with --json the Job). The job flags are
those of run.

Examples:
  ID=$(impulse submit pi --samples 1e10 --seed 7 --label team=research)
  impulse submit particles --random_particles 100000 --t_end 1 --priority 5
  impulse submit --spec job.json --idempotency_key nightly-2024-06-01
  impulse submit pi --samples 1e12 --job_timeout 10m
)";

constexpr const char* kRunFooter = R"(
On a terminal a live progress bar is drawn on stderr; otherwise plain progress
lines, about one a second. Ctrl-C cancels the job and waits for it to end; a
second Ctrl-C quits at once. The summary (or with --json the final Job, result
included) goes to stdout.

Examples:
  impulse run pi --samples 1e9 --seed 7
  impulse run particles --random_particles 1000 --t_end 0.1 --snapshot_every 1000
  impulse run particles --particle 0.3,0.5,1 --particle -0.1,-0.4,3 --t_end 0.1
  impulse run --spec job.json --priority 5 --json > job.json.out
)";

constexpr const char* kWatchFooter = R"(
One line per event (JSON lines with --json) until the terminal event; a
dropped stream is resumed from the last event seen.

Examples:
  impulse watch j-0123456789abcdef
  impulse watch j-0123456789abcdef --after_seq 40 --json | jq .fraction
)";

constexpr const char* kListFooter = R"(
Examples:
  impulse list --state RUNNING
  impulse list --label team=research --label run=a --all --json
)";

constexpr const char* kResultFooter = R"(
Examples:
  impulse result j-0123456789abcdef
  impulse result j-0123456789abcdef --out positions.csv
  impulse result j-0123456789abcdef --json > result.json
)";

std::string Footer(const char* text) { return std::string(text) + kCommonNote; }

}  // namespace

int main(int argc, char** argv) {
  using namespace impulse::cli;
  GlobalOptions global;

  CLI::App app{
      "impulse: submit, run and watch simulation jobs (pi, particles) on an "
      "impulsed server."};
  app.footer(kFooter);
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--server", global.server,
                 "impulsed gRPC address HOST:PORT (env IMPULSE_SERVER)")
      ->envname("IMPULSE_SERVER")
      ->capture_default_str();
  app.add_option("--token", global.token,
                 "bearer token for a server started with --auth_tokens (env "
                 "IMPULSE_TOKEN; prefer the variable: flags show in ps)")
      ->envname("IMPULSE_TOKEN");
  app.add_flag("--json", global.json,
               "print protobuf JSON (the job, response or result; JSON lines "
               "for watch)");
  app.add_option("--timeout", global.timeout_seconds,
                 "deadline in seconds of each call that does not follow a "
                 "job (all but run and watch)")
      ->check([](const std::string& text) -> std::string {
        double seconds = 0;
        if (impulse::cli::ParseDouble("--timeout", text, &seconds).empty() &&
            seconds > 0) {
          return "";
        }
        return "must be a positive number of seconds, got \"" + text + "\"";
      })
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_flag("--tls", global.tls.enabled,
               "connect with TLS, trusting the system's root CAs (implied by "
               "--tls_ca and --tls_cert)")
      ->envname("IMPULSE_TLS");
  app.add_option("--tls_ca", global.tls.ca_file,
                 "connect with TLS, trusting this CA (PEM) instead of the "
                 "system's roots (env IMPULSE_TLS_CA)")
      ->envname("IMPULSE_TLS_CA")
      ->type_name("FILE");
  app.add_option("--tls_cert", global.tls.cert_file,
                 "client certificate (PEM) for a server that requires one "
                 "(--tls_client_ca); needs --tls_key (env IMPULSE_TLS_CERT)")
      ->envname("IMPULSE_TLS_CERT")
      ->type_name("FILE");
  app.add_option("--tls_key", global.tls.key_file,
                 "private key of --tls_cert (PEM, unencrypted; env "
                 "IMPULSE_TLS_KEY)")
      ->envname("IMPULSE_TLS_KEY")
      ->type_name("FILE");

  SpecFlags submit_flags;
  CLI::App* submit = app.add_subcommand(
      "submit", "submit a job and print its id (see run for the job flags)");
  AddSpecFlags(*submit, submit_flags);
  submit->footer(Footer(kSubmitFooter));

  SpecFlags run_flags;
  bool quiet = false;
  CLI::App* run = app.add_subcommand(
      "run", "submit a job, show its progress until it ends, print its result");
  AddSpecFlags(*run, run_flags);
  run->add_flag("-q,--quiet", quiet, "no progress on stderr");
  run->footer(Footer(kRunFooter));

  std::string watch_id, after_seq;
  CLI::App* watch = app.add_subcommand(
      "watch", "print a job's events until it ends (resumes after drops)");
  watch->add_option("id", watch_id, "job id")->required();
  watch
      ->add_option("--after_seq", after_seq,
                   "only events after this sequence number")
      ->type_name("N");
  watch->footer(Footer(kWatchFooter));

  std::string get_id;
  CLI::App* get = app.add_subcommand("get", "show a job");
  get->add_option("id", get_id, "job id")->required();
  get->footer(kCommonNote);

  ListOptions list_options;
  CLI::App* list = app.add_subcommand("list", "list jobs, newest first");
  list->add_option("--state", list_options.state,
                   "only jobs in QUEUED, RUNNING, SUCCEEDED, FAILED or "
                   "CANCELLED")
      ->type_name("STATE");
  list->add_option("--label", list_options.labels,
                   "only jobs with label k=v (repeatable; all must match)")
      ->type_name("K=V")
      ->allow_extra_args(false);
  list->add_option("--page_size", list_options.page_size,
                   "jobs per page (server default 50, at most 1000)")
      ->type_name("N");
  list->add_option("--page_token", list_options.page_token,
                   "continue from a previous page")
      ->type_name("TOKEN");
  list->add_flag("--all", list_options.all, "follow pages to the end");
  list->footer(Footer(kListFooter));

  std::string cancel_id;
  CLI::App* cancel = app.add_subcommand("cancel", "cancel a job");
  cancel->add_option("id", cancel_id, "job id")->required();
  cancel->footer(kCommonNote);

  std::vector<std::string> rm_ids;
  CLI::App* rm = app.add_subcommand(
      "rm",
      "delete finished jobs at once: record, events, result and result "
      "files (a queued or running job: cancel it first)");
  rm->add_option("id", rm_ids, "job id (several allowed)")->required();
  rm->footer(kCommonNote);

  std::string result_id, out_file;
  CLI::App* result = app.add_subcommand(
      "result", "fetch a finished job's whole result (all chunks)");
  result->add_option("id", result_id, "job id")->required();
  result
      ->add_option("--out", out_file,
                   "write it to FILE: .json (default), .pb/.bin binary "
                   "protobuf, or .csv")
      ->type_name("FILE");
  result->footer(Footer(kResultFooter));

  DatasetFlags dataset_flags;
  CLI::App* dataset = AddDatasetCommands(app, dataset_flags);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help is a "parse error" with exit code 0; everything else is usage.
    return app.exit(error) == 0 ? kExitOk : kExitUsage;
  }
  if (std::string error = LoadTlsFiles(global.tls); !error.empty()) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return kExitUsage;
  }

  if (*submit) return SubmitCommand(global, submit_flags);
  if (*run) return RunCommand(global, run_flags, quiet);
  if (*watch) return WatchCommand(global, watch_id, after_seq);
  if (*get) return GetCommand(global, get_id);
  if (*list) return ListCommand(global, list_options);
  if (*cancel) return CancelCommand(global, cancel_id);
  if (*rm) return DeleteCommand(global, rm_ids);
  if (*result) return ResultCommand(global, result_id, out_file);
  if (*dataset) return DatasetCommand(global, *dataset, dataset_flags);
  return kExitUsage;
}
