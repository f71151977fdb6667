// impulse_load (//bench:load): drives a running impulsed on this machine with
// N concurrent clients for a fixed time or job count and reports jobs/s,
// latency percentiles, errors by code, and the server's CPU and memory.
#include <absl/synchronization/mutex.h>
#include <google/protobuf/util/json_util.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "bench/load/burst.h"
#include "bench/load/driver.h"
#include "bench/load/options.h"
#include "bench/load/proc_probe.h"
#include "bench/load/report.h"

namespace {

using impulse::load::Clock;

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
         usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

constexpr const char* kDescription =
    R"(impulse_load: a load generator for impulsed (loopback targets only).

Each of --clients clients runs one job at a time and starts the next as soon as
the last one ended, for --duration seconds or --jobs jobs, whichever comes
first; calls still open --drain seconds after that are cut off. Every job gets
its own seed and no_cache, so each one really runs (--same_seed and
--allow_cache turn that off).

Workloads: tiny = pi, 1,000 samples; medium = pi, 1e7 samples;
  book = particles, 1,000 random particles, t_end 0.1 (1e7 particle-steps);
  spec = --spec, a JobSpec in protobuf JSON (or @file).
Modes: run = the Run RPC (submit + stream events to the terminal one);
  submit_watch = Submit, then Watch to the end; submit = Submit only;
  watch = rounds of one Submit whose job every client Watches (fan-out);
  burst = --watchers Watch streams held open on --watch_jobs anchor jobs while
    --clients clients submit --burst_jobs jobs; then checks that every job
    ended exactly once and every stream got its terminal event, and (with
    --release_wait) that the server's RSS returns to baseline once retention
    has removed the jobs. See bench/load/burst.h and bench/load_burst.sh.
Latency: "submit" is until the job was accepted (run: its first event);
  "end to end" until its terminal event arrived (execute: until the answer
  with the finished job, which is also its "submit").
Server CPU and memory come from /proc/<pid>: --server_pid, or the process
listening on the target's port.

Examples:
  impulse_load --target=127.0.0.1:50051 --clients=16 --duration=5
  impulse_load --workload=book --clients=1 --jobs=20 --json
  impulse_load --mode=watch --clients=1000 --workload=medium --duration=5
  impulse_load --mode=burst --watchers=5000 --burst_jobs=20000 --clients=32
  impulse_load --protocol=rest --http_target=127.0.0.1:8080 --clients=8
  impulse_load --workload=spec --spec='{"particles": {"randomParticles": 1000,
    "tEnd": 10}}' --clients=1 --jobs=1)";

}  // namespace

int main(int argc, char** argv) {
  using namespace impulse::load;
  // As in impulsed: Debian's Abseil checks lock order on every gRPC mutex
  // under one global lock unless told not to; the client should not spend
  // the cores it shares with the server on that.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  LoadOptions options;
  std::string protocol = "grpc", mode = "run";

  CLI::App app{kDescription, "impulse_load"};
  app.add_option("--target", options.target,
                 "gRPC HOST:PORT of impulsed (loopback only)")
      ->capture_default_str();
  app.add_option("--http_target", options.http_target,
                 "REST HOST:PORT of impulsed (loopback only)")
      ->capture_default_str();
  app.add_option("--protocol", protocol, "grpc or rest")
      ->capture_default_str()
      ->check(CLI::IsMember({"grpc", "rest"}));
  app.add_option("--mode", mode,
                 "run (stream every event), execute (one answer with the "
                 "finished job), submit_watch, submit, watch or burst")
      ->capture_default_str()
      ->check(CLI::IsMember(
          {"run", "execute", "submit_watch", "submit", "watch", "burst"}));
  app.add_option("--workload", options.workload,
                 "tiny, medium, book or spec (with --spec)")
      ->capture_default_str()
      ->check(CLI::IsMember({"tiny", "medium", "book", "spec"}));
  app.add_option("--spec", options.spec_json,
                 "JobSpec as protobuf JSON, or @FILE; implies --workload=spec");
  app.add_option("--clients", options.clients,
                 "concurrent clients (gRPC: up to 10000; REST: up to 512)")
      ->capture_default_str();
  app.add_option("--duration", options.duration_s,
                 "seconds to start jobs for (at most 600)")
      ->capture_default_str();
  app.add_option("--jobs", options.jobs,
                 "stop after this many jobs (0: no count limit; at most 1e7)")
      ->capture_default_str();
  app.add_option("--warmup", options.warmup_s,
                 "seconds at the start whose jobs are not counted")
      ->capture_default_str();
  app.add_option("--drain", options.drain_s,
                 "seconds open calls may take after the end before they are "
                 "cut off")
      ->capture_default_str();
  app.add_option("--rpc_timeout", options.rpc_timeout_s,
                 "deadline of each call, seconds")
      ->capture_default_str();
  app.add_option("--channels", options.channels,
                 "gRPC connections (0: min(clients, 4); burst: 8)")
      ->capture_default_str();
  app.add_option("--threads", options.threads,
                 "gRPC client threads, each with its own completion queue")
      ->capture_default_str();
  app.add_option("--seed", options.seed, "seed of the first job")
      ->capture_default_str();
  app.add_flag("--same_seed", options.same_seed,
               "every job with the same seed");
  app.add_flag("--allow_cache", options.allow_cache,
               "let the server answer repeated jobs from its result cache");
  app.add_option("--server_pid", options.server_pid,
                 "pid of impulsed for CPU and memory (default: the process "
                 "listening on the target port)");
  app.add_flag("--json", options.json, "print one JSON object instead of text");
  BurstOptions& burst = options.burst;
  CLI::Option_group* b =
      app.add_option_group("burst", "--mode=burst (the issue #6 scenario)");
  b->add_option("--watchers", burst.watchers,
                "Watch streams held open during the burst")
      ->capture_default_str();
  b->add_option("--watch_jobs", burst.watch_jobs,
                "anchor jobs the watchers are spread over")
      ->capture_default_str();
  b->add_option("--watch_samples", burst.watch_samples,
                "pi samples of each anchor job")
      ->capture_default_str();
  b->add_option("--watch_priority", burst.watch_priority,
                "priority of the anchors (below the burst's 0: they run in "
                "its gaps and after it)")
      ->capture_default_str();
  b->add_option("--hold_jobs", burst.hold_jobs,
                "long jobs that keep the server's CPU slots busy while the "
                "watchers connect, cancelled before the burst (match the "
                "server's --max_running)")
      ->capture_default_str();
  b->add_option("--burst_jobs", burst.burst_jobs,
                "jobs in the burst (--workload, default tiny)")
      ->capture_default_str();
  b->add_option("--finish_timeout", burst.finish_timeout_s,
                "seconds for every job and stream to end")
      ->capture_default_str();
  b->add_option("--release_wait", burst.release_wait_s,
                "then wait up to this long for the server's retention to "
                "remove every job (0: skip the memory check)")
      ->capture_default_str();
  b->add_option("--settle", burst.settle_s,
                "seconds between the jobs' removal and the RSS sample")
      ->capture_default_str();
  b->add_option("--memory_tolerance_mib", burst.memory_tolerance_mib,
                "RSS after the release may exceed the baseline by this much")
      ->capture_default_str();
  b->add_option("--memory_tolerance_fraction", burst.memory_tolerance_fraction,
                "... or by this fraction of the baseline, if larger")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  options.protocol = protocol == "rest" ? Protocol::kRest : Protocol::kGrpc;
  options.mode = mode == "execute"        ? Mode::kExecute
                 : mode == "submit_watch" ? Mode::kSubmitWatch
                 : mode == "submit"       ? Mode::kSubmit
                 : mode == "watch"        ? Mode::kWatch
                 : mode == "burst"        ? Mode::kBurst
                                          : Mode::kRun;
  if (!options.spec_json.empty()) options.workload = "spec";
  if (std::string error = Validate(options); !error.empty()) {
    std::fprintf(stderr, "impulse_load: %s\n", error.c_str());
    return 2;
  }
  impulse::v1::JobSpec base_spec;
  if (std::string error = BuildBaseSpec(options, &base_spec); !error.empty()) {
    std::fprintf(stderr, "impulse_load: %s\n", error.c_str());
    return 2;
  }

  if (options.mode == Mode::kBurst) {
    int port = 0;
    IsLoopbackTarget(options.target, &port);
    const int pid =
        options.server_pid > 0 ? options.server_pid : FindListeningPid(port);
    const BurstReport burst_report = RunBurst(options, base_spec, pid);
    std::cout << (options.json ? BurstToJson(burst_report) + "\n"
                               : BurstToText(burst_report));
    std::cout.flush();
    return burst_report.passed() ? 0 : 3;
  }

  Report report;
  report.options = options;
  report.machine = DescribeMachine();
  {
    impulse::v1::JobSpec shown = base_spec;
    SpecForJob(options, 0, &shown);
    (void)google::protobuf::util::MessageToJsonString(shown, &report.spec_json);
  }
  int port = 0;
  IsLoopbackTarget(options.protocol == Protocol::kGrpc ? options.target
                                                       : options.http_target,
                   &port);
  report.server_pid =
      options.server_pid > 0 ? options.server_pid : FindListeningPid(port);

  std::unique_ptr<LoadDriver> driver = options.protocol == Protocol::kGrpc
                                           ? MakeGrpcDriver(options, base_spec)
                                           : MakeRestDriver(options, base_spec);
  if (std::string error = driver->Connect(); !error.empty()) {
    std::fprintf(stderr, "impulse_load: %s\n", error.c_str());
    return 1;
  }

  report.load_before = LoadAverage1();
  const RunPlan plan = RunPlan::From(options, Clock::now());
  driver->Start(plan);
  std::this_thread::sleep_until(plan.warm_end);
  // The measured window starts here (right away without a warm-up).
  if (report.server_pid > 0) {
    report.server_before = SampleProcess(report.server_pid);
  }
  const MachineSample machine_before = SampleMachine();
  const double client_cpu_before = ProcessCpuSeconds();
  Recorder record = driver->Wait();
  const Clock::time_point done = Clock::now();
  if (report.server_pid > 0) {
    report.server_after = SampleProcess(report.server_pid);
  }
  report.machine_busy = BusyFraction(machine_before, SampleMachine());
  report.client_cpu_seconds = ProcessCpuSeconds() - client_cpu_before;
  report.load_after = LoadAverage1();

  // The window: from the warm-up's end (or the first counted job) to the
  // end of the last counted job.
  const Clock::duration counted_from = plan.warm_end - plan.start;
  const Clock::duration last =
      record.ok() > 0 ? record.last_end() : done - plan.start;
  report.window_s = std::chrono::duration<double>(last - counted_from).count();
  report.ok = record.ok();
  report.errors = record.errors();
  report.errors_by_code = record.errors_by_code();
  report.cut_off = record.cut_off();
  report.warmup_jobs = record.warmup_jobs();
  report.events = record.events();
  report.rounds = driver->rounds();
  report.jobs_per_s = report.window_s > 0
                          ? static_cast<double>(report.ok) / report.window_s
                          : 0;
  report.submit = Summarize(record.submit_ns());
  report.end_to_end = Summarize(record.end_to_end_ns());

  std::cout << (options.json ? ToJson(report) + "\n" : ToText(report));
  std::cout.flush();
  return report.errors == 0 ? 0 : 3;
}
