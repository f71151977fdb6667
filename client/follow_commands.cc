// run and watch: follow a job's event stream to its terminal event.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>

#include "client/command_util.h"
#include "client/commands.h"
#include "client/exit_code.h"
#include "client/flag_parsing.h"
#include "client/interrupt_watcher.h"
#include "client/job_format.h"
#include "client/progress_display.h"

namespace impulse::cli {
namespace {

// Cancels the job `run` started once both are true: Ctrl-C was pressed and
// the job id is known (it arrives with the first event).
class Canceller {
 public:
  explicit Canceller(ProgressDisplay& display) : display_(display) {}

  void SetClient(JobClient* client) {
    {
      std::lock_guard lock(mu_);
      client_ = client;
    }
    MaybeSend();
  }
  void SetJob(const std::string& id) {
    {
      std::lock_guard lock(mu_);
      if (!job_id_.empty()) return;
      job_id_ = id;
    }
    MaybeSend();
  }
  void Request() {
    std::string id;
    {
      std::lock_guard lock(mu_);
      requested_ = true;
      id = job_id_;
    }
    display_.Note(
        id.empty()
            ? "interrupted: cancelling the job once the server names it "
              "(Ctrl-C again to quit without waiting)"
            : fmt::format("interrupted: cancelling job {} (Ctrl-C again to "
                          "quit without waiting)",
                          id));
    MaybeSend();
  }

 private:
  void MaybeSend() {
    std::string id;
    JobClient* client = nullptr;
    {
      std::lock_guard lock(mu_);
      if (!requested_ || sent_ || job_id_.empty() || client_ == nullptr) {
        return;
      }
      sent_ = true;
      id = job_id_;
      client = client_;
    }
    v1::Job job;
    if (grpc::Status status = client->Cancel(id, &job); !status.ok()) {
      display_.Note(
          fmt::format("could not cancel job {}: {}", id, FormatStatus(status)));
    }
  }

  ProgressDisplay& display_;
  std::mutex mu_;
  JobClient* client_ = nullptr;
  std::string job_id_;
  bool requested_ = false;
  bool sent_ = false;
};

// "job X SUCCEEDED in 1.2 s on CPU" plus the result or the error. The time
// is the job's run time from its timestamps when they are precise, else the
// client's wall time of the whole call (`wall_seconds`): timestamps with
// whole seconds only would say "0 s" for a fast job.
std::string Summary(const v1::Job& job, double wall_seconds) {
  const bool precise =
      job.start_time().nanos() != 0 || job.end_time().nanos() != 0;
  double seconds =
      precise ? SecondsBetween(job.start_time(), job.end_time()) : wall_seconds;
  if (seconds < 0) seconds = SecondsBetween(job.create_time(), job.end_time());
  std::string text =
      fmt::format("job {} {}", job.id(), v1::JobState_Name(job.state()));
  if (seconds >= 0) text += fmt::format(" in {}", FormatDuration(seconds));
  if (job.placed_on() != v1::AUTO) {
    text += fmt::format(" on {}", v1::Device_Name(job.placed_on()));
  }
  if (job.error().code() == v1::JobState_Name(job.state())) {
    text += fmt::format(" ({})", job.error().message());
  } else if (!job.error().code().empty() || !job.error().message().empty()) {
    text += fmt::format(": {}: {}", job.error().code(), job.error().message());
  }
  if (job.has_result()) {
    text += fmt::format("\n{}", DescribeResult(job.result()));
  }
  return text;
}

}  // namespace

int RunCommand(const GlobalOptions& global, const SpecFlags& flags,
               bool quiet) {
  v1::JobSpec spec;
  if (std::string error = BuildSpec(flags, &spec); !error.empty()) {
    return UsageError(error);
  }
  ProgressDisplay display(ProgressDisplay::ModeFor(stderr, quiet), stderr);
  Canceller canceller(display);
  std::atomic<bool> finished{false};
  // Declared before the watcher so that it outlives the watcher's callbacks,
  // but created after it: gRPC's threads must inherit the blocked SIGINT.
  std::unique_ptr<JobClient> client;
  InterruptWatcher interrupts([&](int count) {
    if (count >= 2 || finished.load()) {
      display.Note("interrupted");
      std::_Exit(kExitInterrupted);
    }
    canceller.Request();
  });
  client = MakeClient(global);
  canceller.SetClient(client.get());

  v1::JobEvent terminal;
  const auto call_start = std::chrono::steady_clock::now();
  double wall_seconds = -1;
  JobClient::FollowResult followed;
  grpc::Status status = client->FollowRun(
      spec,
      [&](const v1::JobEvent& event) {
        canceller.SetJob(event.job_id());
        display.OnEvent(event);
        if (IsTerminalEvent(event)) {
          terminal = event;
          wall_seconds = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - call_start)
                             .count();
        }
      },
      [&](const std::string& notice) { display.Note(notice); }, &followed);
  finished.store(true);
  display.Finish();
  if (!status.ok()) return RpcError(status);

  // The final job, with its result (assembled from chunks when too large to
  // be inlined).
  v1::Job job;
  status = client->GetWithResult(followed.job_id, &job);
  if (global.json) {
    if (!status.ok()) return RpcError(status);
    PrintLine(ToJson(job, /*pretty=*/true));
    return ExitForState(job.state());
  }
  if (!status.ok()) {
    // The job finished; say so from the terminal event alone.
    fmt::print(stderr, "warning: cannot fetch the finished job: {}\n",
               FormatStatus(status));
    job.Clear();
    job.set_id(followed.job_id);
    job.set_state(followed.state);
    *job.mutable_error() = terminal.error();
  }
  PrintLine(Summary(job, wall_seconds));
  return ExitForState(job.state());
}

int WatchCommand(const GlobalOptions& global, const std::string& id,
                 const std::string& after_seq) {
  std::uint64_t after = 0;
  if (!after_seq.empty()) {
    if (auto error =
            ParseUint64("--after_seq", after_seq,
                        std::numeric_limits<std::uint64_t>::max(), &after);
        !error.empty()) {
      return UsageError(error);
    }
  }
  auto client = MakeClient(global);
  JobClient::FollowResult followed;
  grpc::Status status = client->FollowWatch(
      id, after,
      [&](const v1::JobEvent& event) {
        PrintLine(global.json ? ToJson(event, /*pretty=*/false)
                              : DescribeEvent(event));
      },
      [](const std::string& notice) { fmt::print(stderr, "{}\n", notice); },
      &followed);
  if (!status.ok()) return RpcError(status);
  return ExitForState(followed.state);
}

}  // namespace impulse::cli
