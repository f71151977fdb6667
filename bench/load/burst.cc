#include "bench/load/burst.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_map>

#include "bench/load/grpc_async.h"
#include "bench/load/report.h"
#include "impulse/v1/jobs.grpc.pb.h"

namespace impulse::load {

JobTally TallyJobs(const std::vector<std::string>& ids,
                   const std::vector<v1::Job>& listed) {
  JobTally tally;
  tally.expected = ids.size();
  std::unordered_map<std::string, int> seen;
  seen.reserve(ids.size());
  for (const std::string& id : ids) seen.emplace(id, 0);
  for (const v1::Job& job : listed) {
    auto it = seen.find(job.id());
    if (it == seen.end()) continue;  // not this run's
    if (++it->second > 1) {
      ++tally.duplicates;
      continue;
    }
    ++tally.found;
    const v1::JobState state = job.state();
    if (IsTerminal(state)) {
      ++tally.by_state[v1::JobState_Name(state)];
    } else {
      ++tally.non_terminal;
    }
  }
  for (const auto& [id, n] : seen) tally.missing += n == 0;
  return tally;
}

WatchTally TallyWatchers(const std::vector<WatchOutcome>& outcomes) {
  WatchTally tally;
  tally.watchers = outcomes.size();
  for (const WatchOutcome& o : outcomes) {
    tally.opened += o.opened;
    tally.events += o.events;
    if (o.status != "OK") {
      ++tally.failures["status_" + o.status];
    } else if (o.terminal_events == 0) {
      ++tally.failures["no_terminal_event"];
    } else if (o.terminal_events > 1) {
      ++tally.failures["several_terminal_events"];
    } else {
      ++tally.terminated;
    }
  }
  return tally;
}

MemoryVerdict JudgeMemory(std::uint64_t baseline_bytes,
                          std::uint64_t released_bytes, double tolerance_mib,
                          double tolerance_fraction) {
  MemoryVerdict v;
  if (baseline_bytes == 0 || released_bytes == 0) return v;
  v.measured = true;
  const double mib = 1024.0 * 1024.0;
  v.delta_mib = (static_cast<double>(released_bytes) -
                 static_cast<double>(baseline_bytes)) /
                mib;
  v.allowed_mib =
      std::max(tolerance_mib,
               tolerance_fraction * static_cast<double>(baseline_bytes) / mib);
  v.returned = v.delta_mib <= v.allowed_mib;
  return v;
}

namespace {

using SystemClock = std::chrono::system_clock;

Clock::duration Seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(s));
}

SystemClock::time_point ToSystem(Clock::time_point t) {
  return SystemClock::now() +
         std::chrono::duration_cast<SystemClock::duration>(t - Clock::now());
}

std::int64_t Nanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000'000 + t.nanos();
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Shared {
  std::atomic<std::uint64_t> opened{0};
  std::atomic<std::uint64_t> closed{0};  // of the opened ones
  std::atomic<std::uint64_t> peak_open{0};
  std::atomic<int> watchers_done{0};
  std::atomic<int> submitters_done{0};
  std::atomic<std::uint64_t> next_job{0};
};

// One Watch stream to its end.
class Watcher {
 public:
  Watcher(v1::JobService::Stub* stub, grpc::CompletionQueue* cq, Shared* shared,
          const std::string& job_id, Clock::time_point end)
      : stub_(stub), cq_(cq), shared_(shared) {
    request_.set_id(job_id);
    context_.set_deadline(ToSystem(end));
  }
  void Start() {
    reader_ = stub_->PrepareAsyncWatch(&context_, request_, cq_);
    reader_->StartCall(&started_tag_);
  }
  const WatchOutcome& outcome() const { return outcome_; }

 private:
  void OnStarted(bool ok) {
    if (!ok) {
      reader_->Finish(&status_, &finished_tag_);
      return;
    }
    reader_->Read(&event_, &read_tag_);
  }
  void OnRead(bool ok) {
    if (!ok) {
      reader_->Finish(&status_, &finished_tag_);
      return;
    }
    if (!outcome_.opened) {
      outcome_.opened = true;
      const std::uint64_t open =
          shared_->opened.fetch_add(1) + 1 - shared_->closed.load();
      std::uint64_t peak = shared_->peak_open.load();
      while (open > peak &&
             !shared_->peak_open.compare_exchange_weak(peak, open)) {
      }
    }
    ++outcome_.events;
    if (event_.type() == v1::STATE_CHANGED && IsTerminal(event_.state())) {
      ++outcome_.terminal_events;
    }
    reader_->Read(&event_, &read_tag_);
  }
  void OnFinished(bool /*ok*/) {
    outcome_.status = status_.ok() ? "OK" : CodeName(status_);
    if (outcome_.opened) shared_->closed.fetch_add(1);
    reader_.reset();
    shared_->watchers_done.fetch_add(1, std::memory_order_release);
  }

  v1::JobService::Stub* stub_;
  grpc::CompletionQueue* cq_;
  Shared* shared_;
  grpc::ClientContext context_;
  v1::WatchRequest request_;
  v1::JobEvent event_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncReader<v1::JobEvent>> reader_;
  WatchOutcome outcome_;
  MemberTag<Watcher, &Watcher::OnStarted> started_tag_{this};
  MemberTag<Watcher, &Watcher::OnRead> read_tag_{this};
  MemberTag<Watcher, &Watcher::OnFinished> finished_tag_{this};
};

// One burst client: Submit, and the next as soon as the answer came.
class Submitter {
 public:
  Submitter(v1::JobService::Stub* stub, grpc::CompletionQueue* cq,
            Shared* shared, const LoadOptions& options, const v1::JobSpec& spec,
            std::vector<std::string>* ids, Clock::time_point end)
      : stub_(stub),
        cq_(cq),
        shared_(shared),
        options_(options),
        ids_(ids),
        end_(end) {
    request_.mutable_spec()->CopyFrom(spec);
    latencies_.reserve(options.burst.burst_jobs / 8 + 16);
  }
  void Start() { Next(); }

  std::vector<std::int64_t>& latencies() { return latencies_; }
  const std::map<std::string, std::uint64_t>& errors() const { return errors_; }
  Clock::time_point first_start() const { return first_start_; }
  Clock::time_point last_answer() const { return last_answer_; }

 private:
  void Next() {
    index_ = shared_->next_job.fetch_add(1);
    if (index_ >= options_.burst.burst_jobs) {
      shared_->submitters_done.fetch_add(1, std::memory_order_release);
      return;
    }
    SpecForJob(options_, index_, request_.mutable_spec());
    context_.emplace();
    context_->set_deadline(std::min(
        ToSystem(end_),
        SystemClock::now() +
            std::chrono::duration_cast<SystemClock::duration>(
                std::chrono::duration<double>(options_.rpc_timeout_s))));
    start_ = Clock::now();
    if (start_ < first_start_) first_start_ = start_;
    responder_ = stub_->PrepareAsyncSubmit(&*context_, request_, cq_);
    responder_->StartCall();
    responder_->Finish(&job_, &status_, &submitted_tag_);
  }
  void OnSubmitted(bool /*ok*/) {
    const Clock::time_point now = Clock::now();
    last_answer_ = std::max(last_answer_, now);
    if (status_.ok()) {
      latencies_.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - start_)
              .count());
      (*ids_)[index_] = job_.id();
    } else {
      ++errors_[CodeName(status_)];
    }
    Next();
  }

  v1::JobService::Stub* stub_;
  grpc::CompletionQueue* cq_;
  Shared* shared_;
  const LoadOptions& options_;
  std::vector<std::string>* ids_;
  Clock::time_point end_;
  std::uint64_t index_ = 0;
  std::optional<grpc::ClientContext> context_;
  v1::SubmitRequest request_;
  v1::Job job_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::Job>> responder_;
  Clock::time_point start_;
  Clock::time_point first_start_ = Clock::time_point::max();
  Clock::time_point last_answer_ = Clock::time_point::min();
  std::vector<std::int64_t> latencies_;
  std::map<std::string, std::uint64_t> errors_;
  MemberTag<Submitter, &Submitter::OnSubmitted> submitted_tag_{this};
};

// Samples the server every 50 ms: the highest VmRSS and fd count seen.
class Sampler {
 public:
  explicit Sampler(int pid) : pid_(pid) {
    if (pid_ > 0) thread_ = std::thread([this] { Loop(); });
  }
  ~Sampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t peak_rss() const { return peak_rss_.load(); }
  std::uint64_t peak_fds() const { return peak_fds_.load(); }

 private:
  void Loop() {
    int round = 0;
    while (!stop_) {
      const ProcessSample s = SampleProcess(pid_);
      if (s.valid && s.rss_bytes > peak_rss_) peak_rss_ = s.rss_bytes;
      if (round++ % 5 == 0) {  // every 250 ms
        const int fds = CountOpenFds(pid_);
        if (fds > 0 && static_cast<std::uint64_t>(fds) > peak_fds_) {
          peak_fds_ = fds;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  const int pid_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> peak_rss_{0}, peak_fds_{0};
  std::thread thread_;
};

grpc::Status SubmitSync(v1::JobService::Stub* stub, const v1::JobSpec& spec,
                        v1::Job* job) {
  grpc::ClientContext context;
  context.set_deadline(SystemClock::now() + std::chrono::seconds(30));
  v1::SubmitRequest request;
  *request.mutable_spec() = spec;
  return stub->Submit(&context, request, job);
}

// Every job the server lists (all pages), or an error status.
grpc::Status ListAll(v1::JobService::Stub* stub, std::vector<v1::Job>* out) {
  out->clear();
  std::string token;
  do {
    grpc::ClientContext context;
    context.set_deadline(SystemClock::now() + std::chrono::seconds(30));
    v1::ListJobsRequest request;
    request.set_page_size(1000);
    request.set_page_token(token);
    v1::ListJobsResponse response;
    grpc::Status status = stub->List(&context, request, &response);
    if (!status.ok()) return status;
    for (v1::Job& job : *response.mutable_jobs())
      out->push_back(std::move(job));
    token = response.next_page_token();
  } while (!token.empty());
  return grpc::Status::OK;
}

template <typename Done>
bool WaitFor(Done done, Clock::time_point until) {
  while (!done()) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace

BurstReport RunBurst(const LoadOptions& options, const v1::JobSpec& burst_spec,
                     int server_pid) {
  const BurstOptions& b = options.burst;
  BurstReport report;
  report.options = options;
  report.machine = DescribeMachine();
  report.server_pid = server_pid;
  report.load_before = LoadAverage1();
  const Clock::time_point run_start = Clock::now();
  const Clock::time_point hard_end = run_start + Seconds(b.finish_timeout_s);

  // Connections: a few, each its own TCP connection; every stream and call
  // is multiplexed over them.
  const int n_channels = options.channels > 0 ? options.channels : 8;
  std::vector<std::unique_ptr<v1::JobService::Stub>> stubs;
  for (int i = 0; i < n_channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(
        options.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(SystemClock::now() +
                                   std::chrono::seconds(5))) {
      report.problems.push_back("cannot connect to " + options.target);
      return report;
    }
    stubs.push_back(v1::JobService::NewStub(channel));
  }
  v1::JobService::Stub* sync = stubs[0].get();

  Sampler sampler(server_pid);
  if (server_pid > 0) report.baseline = SampleProcess(server_pid);

  // Hold jobs: huge pi jobs above everything, cancelled below.
  std::vector<std::string> hold_ids, anchor_ids;
  for (int i = 0; i < b.hold_jobs; ++i) {
    v1::JobSpec spec;
    spec.mutable_pi()->set_samples(1'000'000'000'000);
    spec.mutable_pi()->set_seed(options.seed + 7'000'000 + i);
    spec.set_no_cache(true);
    spec.set_priority(1'000);
    (*spec.mutable_labels())["load"] = "hold";
    v1::Job job;
    if (grpc::Status s = SubmitSync(sync, spec, &job); !s.ok()) {
      report.problems.push_back("hold job: " + CodeName(s) + " " +
                                s.error_message());
      return report;
    }
    hold_ids.push_back(job.id());
  }
  // Wait (briefly) until the hold jobs run, so the anchors stay queued.
  WaitFor(
      [&] {
        for (const std::string& id : hold_ids) {
          grpc::ClientContext context;
          v1::GetJobRequest request;
          request.set_id(id);
          v1::Job job;
          if (!sync->Get(&context, request, &job).ok() ||
              job.state() != v1::RUNNING) {
            return false;
          }
        }
        return true;
      },
      Clock::now() + std::chrono::seconds(2));

  v1::JobSpec anchor_spec;
  anchor_spec.mutable_pi()->set_samples(b.watch_samples);
  anchor_spec.set_no_cache(true);
  anchor_spec.set_priority(b.watch_priority);
  (*anchor_spec.mutable_labels())["load"] = "anchor";
  for (int i = 0; i < b.watch_jobs; ++i) {
    anchor_spec.mutable_pi()->set_seed(options.seed + 5'000'000 + i);
    v1::Job job;
    if (grpc::Status s = SubmitSync(sync, anchor_spec, &job); !s.ok()) {
      report.problems.push_back("anchor job: " + CodeName(s) + " " +
                                s.error_message());
      return report;
    }
    anchor_ids.push_back(job.id());
  }
  (void)google::protobuf::util::MessageToJsonString(anchor_spec,
                                                    &report.anchor_spec_json);
  {
    v1::JobSpec shown = burst_spec;
    SpecForJob(options, 0, &shown);
    (void)google::protobuf::util::MessageToJsonString(shown,
                                                      &report.burst_spec_json);
  }

  // Completion queues, one thread each.
  Shared shared;
  const int n_threads = std::max(1, options.threads);
  std::vector<std::unique_ptr<grpc::CompletionQueue>> cqs;
  std::vector<std::thread> threads;
  for (int i = 0; i < n_threads; ++i) {
    cqs.push_back(std::make_unique<grpc::CompletionQueue>());
  }
  for (auto& cq : cqs) {
    threads.emplace_back([q = cq.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (q->Next(&tag, &ok)) static_cast<Tag*>(tag)->Done(ok);
    });
  }

  // The watchers, spread evenly over the anchors.
  const Clock::time_point watch_start = Clock::now();
  std::vector<std::unique_ptr<Watcher>> watchers;
  watchers.reserve(b.watchers);
  for (int i = 0; i < b.watchers; ++i) {
    watchers.push_back(std::make_unique<Watcher>(
        stubs[i % stubs.size()].get(), cqs[i % cqs.size()].get(), &shared,
        anchor_ids[i % anchor_ids.size()], hard_end));
  }
  for (auto& w : watchers) w->Start();
  WaitFor(
      [&] {
        return shared.opened.load() +
                   static_cast<std::uint64_t>(shared.watchers_done.load()) >=
               static_cast<std::uint64_t>(b.watchers);
      },
      std::min(hard_end, Clock::now() + std::chrono::seconds(60)));
  report.watchers_open_s = SecondsSince(watch_start);
  if (server_pid > 0) report.watchers_open = SampleProcess(server_pid);

  // Free the CPU slots, then the burst.
  for (const std::string& id : hold_ids) {
    grpc::ClientContext context;
    v1::CancelJobRequest request;
    request.set_id(id);
    v1::Job job;
    if (grpc::Status s = sync->Cancel(&context, request, &job); !s.ok()) {
      report.problems.push_back("cancel hold job: " + CodeName(s));
    }
  }
  std::vector<std::string> burst_ids(b.burst_jobs);
  std::vector<std::unique_ptr<Submitter>> submitters;
  for (int i = 0; i < options.clients; ++i) {
    submitters.push_back(std::make_unique<Submitter>(
        stubs[i % stubs.size()].get(), cqs[i % cqs.size()].get(), &shared,
        options, burst_spec, &burst_ids, hard_end));
  }
  const SystemClock::time_point burst_wall_start = SystemClock::now();
  for (auto& s : submitters) s->Start();
  WaitFor(
      [&] {
        return shared.submitters_done.load(std::memory_order_acquire) ==
               options.clients;
      },
      hard_end + std::chrono::seconds(5));

  std::vector<std::int64_t> latencies;
  Clock::time_point first = Clock::time_point::max();
  Clock::time_point last = Clock::time_point::min();
  for (auto& s : submitters) {
    latencies.insert(latencies.end(), s->latencies().begin(),
                     s->latencies().end());
    for (const auto& [code, n] : s->errors()) report.submit_errors[code] += n;
    first = std::min(first, s->first_start());
    last = std::max(last, s->last_answer());
  }
  report.submitted = latencies.size();
  report.submit = Summarize(latencies);
  if (last > first) {
    report.submit_window_s =
        std::chrono::duration<double>(last - first).count();
    report.submit_rate =
        static_cast<double>(report.submitted) / report.submit_window_s;
  }

  // Every stream must end (with its terminal event).
  const bool watchers_ended = WaitFor(
      [&] {
        return shared.watchers_done.load(std::memory_order_acquire) ==
               b.watchers;
      },
      hard_end + std::chrono::seconds(5));
  report.peak_open_streams = shared.peak_open.load();

  // Every accepted job must be listed once, in a terminal state.
  const Clock::time_point verify_start = Clock::now();
  std::vector<std::string> all_ids;
  for (const std::string& id : burst_ids) {
    if (!id.empty()) all_ids.push_back(id);
  }
  all_ids.insert(all_ids.end(), anchor_ids.begin(), anchor_ids.end());
  all_ids.insert(all_ids.end(), hold_ids.begin(), hold_ids.end());
  std::vector<v1::Job> listed;
  for (;;) {
    if (grpc::Status s = ListAll(sync, &listed); !s.ok()) {
      report.problems.push_back("List: " + CodeName(s) + " " +
                                s.error_message());
      break;
    }
    report.jobs = TallyJobs(all_ids, listed);
    // Missing ids do not come back by waiting; unfinished jobs may.
    if (report.jobs.all_terminal() || report.jobs.missing > 0 ||
        Clock::now() >= hard_end) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  report.verify_s = SecondsSince(verify_start);
  if (server_pid > 0) report.burst_done = SampleProcess(server_pid);

  // Throughput and end to end from the server's own timestamps.
  {
    std::unordered_map<std::string, const v1::Job*> by_id;
    by_id.reserve(listed.size());
    for (const v1::Job& job : listed) by_id.emplace(job.id(), &job);
    std::vector<std::int64_t> e2e;
    e2e.reserve(burst_ids.size());
    std::int64_t last_end = 0;
    std::uint64_t finished = 0;
    for (const std::string& id : burst_ids) {
      auto it = by_id.find(id);
      if (it == by_id.end() || !it->second->has_end_time()) continue;
      const std::int64_t end = Nanos(it->second->end_time());
      e2e.push_back(end - Nanos(it->second->create_time()));
      last_end = std::max(last_end, end);
      ++finished;
    }
    report.end_to_end = Summarize(e2e);
    const std::int64_t start_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(
            burst_wall_start.time_since_epoch())
            .count();
    if (last_end > start_ns) {
      report.burst_window_s = static_cast<double>(last_end - start_ns) / 1e9;
      report.jobs_per_s = static_cast<double>(finished) / report.burst_window_s;
    }
  }

  // The client side is done: close the queues.
  for (auto& cq : cqs) cq->Shutdown();
  for (std::thread& t : threads) t.join();
  std::vector<WatchOutcome> outcomes;
  outcomes.reserve(watchers.size());
  for (auto& w : watchers) outcomes.push_back(w->outcome());
  report.watch = TallyWatchers(outcomes);
  watchers.clear();
  submitters.clear();

  // Release: the server's retention removes the finished jobs.
  if (b.release_wait_s > 0) {
    const Clock::time_point release_start = Clock::now();
    const bool emptied = WaitFor(
        [&] {
          grpc::ClientContext context;
          v1::ListJobsRequest request;
          request.set_page_size(1);
          v1::ListJobsResponse response;
          return sync->List(&context, request, &response).ok() &&
                 response.jobs_size() == 0;
        },
        release_start + Seconds(b.release_wait_s));
    report.release_wait_s = SecondsSince(release_start);
    if (!emptied) {
      report.problems.push_back(
          fmt::format("retention did not remove the finished jobs within {} s",
                      b.release_wait_s));
    }
    std::this_thread::sleep_for(Seconds(b.settle_s));
    if (server_pid > 0) {
      report.released = SampleProcess(server_pid);
      report.released_measured = report.released.valid;
      report.memory =
          JudgeMemory(report.baseline.rss_bytes, report.released.rss_bytes,
                      b.memory_tolerance_mib, b.memory_tolerance_fraction);
    }
  }
  sampler.Stop();
  report.peak_rss_bytes = sampler.peak_rss();
  report.open_fds_peak = sampler.peak_fds();
  report.load_after = LoadAverage1();
  report.total_s = SecondsSince(run_start);

  // The verdict.
  if (!report.submit_errors.empty()) {
    report.problems.push_back("some burst submits failed");
  }
  if (report.jobs.missing > 0) {
    report.problems.push_back(fmt::format(
        "{} accepted job(s) lost (not listed)", report.jobs.missing));
  }
  if (report.jobs.duplicates > 0) {
    report.problems.push_back(
        fmt::format("{} job(s) listed twice", report.jobs.duplicates));
  }
  if (report.jobs.non_terminal > 0) {
    report.problems.push_back(
        fmt::format("{} job(s) never finished", report.jobs.non_terminal));
  }
  if (!watchers_ended ||
      report.watch.terminated != static_cast<std::uint64_t>(b.watchers)) {
    report.problems.push_back(
        fmt::format("{} of {} watchers did not end with exactly one terminal "
                    "event",
                    b.watchers - report.watch.terminated, b.watchers));
  }
  if (report.memory.measured && !report.memory.returned) {
    report.problems.push_back(fmt::format(
        "server RSS did not return to baseline: +{:.1f} MiB (allowed {:.1f})",
        report.memory.delta_mib, report.memory.allowed_mib));
  }
  return report;
}

namespace {

double MiB(std::uint64_t bytes) {
  return static_cast<double>(bytes) / 1048576.0;
}
double Ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string SampleJson(const ProcessSample& s) {
  if (!s.valid) return "null";
  return fmt::format(
      "{{\"rss_mib\": {:.1f}, \"hwm_mib\": {:.1f}, \"threads\": {}}}",
      MiB(s.rss_bytes), MiB(s.peak_rss_bytes), s.threads);
}

}  // namespace

std::string BurstToJson(const BurstReport& r) {
  const BurstOptions& b = r.options.burst;
  std::string problems = "[";
  for (const std::string& p : r.problems) {
    if (problems.size() > 1) problems += ", ";
    problems += JsonString(p);
  }
  problems += "]";
  return fmt::format(
      "{{\"mode\": \"burst\", \"target\": {}, \"passed\": {}, "
      "\"problems\": {}, \"watchers\": {}, \"watch_jobs\": {}, "
      "\"hold_jobs\": {}, \"burst_jobs\": {}, \"clients\": {}, "
      "\"channels\": {}, \"threads\": {}, \"burst_spec\": {}, "
      "\"anchor_spec\": {}, \"submitted\": {}, \"submit_errors\": {}, "
      "\"submit_window_s\": {:.3f}, \"submit_rate\": {:.1f}, "
      "\"burst_window_s\": {:.3f}, \"jobs_per_s\": {:.1f}, "
      "\"submit_latency\": {}, \"end_to_end_latency\": {}, "
      "\"watchers_open_s\": {:.3f}, \"peak_open_streams\": {}, "
      "\"watch\": {{\"opened\": {}, \"terminated\": {}, \"events\": {}, "
      "\"failures\": {}}}, \"jobs\": {{\"expected\": {}, \"found\": {}, "
      "\"missing\": {}, \"duplicates\": {}, \"non_terminal\": {}, "
      "\"by_state\": {}}}, \"verify_s\": {:.3f}, \"server\": {{\"pid\": {}, "
      "\"baseline\": {}, \"watchers_open\": {}, \"burst_done\": {}, "
      "\"released\": {}, \"peak_rss_mib\": {:.1f}, \"peak_fds\": {}, "
      "\"release_wait_s\": {:.3f}, \"memory_returned\": {}, "
      "\"memory_delta_mib\": {:.1f}, \"memory_allowed_mib\": {:.1f}}}, "
      "\"load_average_before\": {:.2f}, \"load_average_after\": {:.2f}, "
      "\"total_s\": {:.2f}, \"machine\": {}}}",
      JsonString(r.options.target), r.passed(), problems, b.watchers,
      b.watch_jobs, b.hold_jobs, b.burst_jobs, r.options.clients,
      r.options.channels, r.options.threads,
      r.burst_spec_json.empty() ? "null" : r.burst_spec_json,
      r.anchor_spec_json.empty() ? "null" : r.anchor_spec_json, r.submitted,
      CountsJson(r.submit_errors), r.submit_window_s, r.submit_rate,
      r.burst_window_s, r.jobs_per_s, LatencyJson(r.submit),
      LatencyJson(r.end_to_end), r.watchers_open_s, r.peak_open_streams,
      r.watch.opened, r.watch.terminated, r.watch.events,
      CountsJson(r.watch.failures), r.jobs.expected, r.jobs.found,
      r.jobs.missing, r.jobs.duplicates, r.jobs.non_terminal,
      CountsJson(r.jobs.by_state), r.verify_s, r.server_pid,
      SampleJson(r.baseline), SampleJson(r.watchers_open),
      SampleJson(r.burst_done), SampleJson(r.released), MiB(r.peak_rss_bytes),
      r.open_fds_peak, r.release_wait_s,
      r.memory.measured ? (r.memory.returned ? "true" : "false") : "null",
      r.memory.delta_mib, r.memory.allowed_mib, r.load_before, r.load_after,
      r.total_s, JsonString(r.machine));
}

std::string BurstToText(const BurstReport& r) {
  const BurstOptions& b = r.options.burst;
  std::string out = fmt::format(
      "impulse load burst: grpc {} watchers={} on {} anchor jobs, burst={} "
      "jobs from {} clients ({} channels, {} thread(s))\n",
      r.options.target, b.watchers, b.watch_jobs, b.burst_jobs,
      r.options.clients, r.options.channels > 0 ? r.options.channels : 8,
      r.options.threads);
  out += fmt::format("  burst spec: {}\n  anchor spec: {}\n", r.burst_spec_json,
                     r.anchor_spec_json);
  out += fmt::format(
      "  streams: {} opened in {:.2f} s, peak {} open at once; {} ended with "
      "their terminal event, {} events\n",
      r.watch.opened, r.watchers_open_s, r.peak_open_streams,
      r.watch.terminated, r.watch.events);
  for (const auto& [why, n] : r.watch.failures) {
    out += fmt::format("    watcher failure {}: {}\n", why, n);
  }
  out += fmt::format(
      "  burst: {} accepted in {:.2f} s = {:.0f} submits/s; all done in "
      "{:.2f} s = {:.0f} jobs/s\n",
      r.submitted, r.submit_window_s, r.submit_rate, r.burst_window_s,
      r.jobs_per_s);
  auto line = [](const char* name, const LatencySummary& s) {
    return fmt::format(
        "  {:<28} p50 {:>8.3f}  p90 {:>8.3f}  p99 {:>8.3f}  max {:>8.3f} ms\n",
        name, Ms(s.p50_ns), Ms(s.p90_ns), Ms(s.p99_ns), Ms(s.max_ns));
  };
  out += line("submit (client)", r.submit);
  out += line("end to end (server times)", r.end_to_end);
  if (!r.submit_errors.empty()) {
    out += "  submit errors:";
    for (const auto& [code, n] : r.submit_errors) {
      out += fmt::format(" {}={}", code, n);
    }
    out += "\n";
  }
  out += fmt::format(
      "  jobs: {} expected, {} listed, {} missing, {} duplicated, {} "
      "unfinished; states:",
      r.jobs.expected, r.jobs.found, r.jobs.missing, r.jobs.duplicates,
      r.jobs.non_terminal);
  for (const auto& [state, n] : r.jobs.by_state) {
    out += fmt::format(" {}={}", state, n);
  }
  out += fmt::format(" (checked in {:.2f} s)\n", r.verify_s);
  if (r.baseline.valid) {
    out += fmt::format(
        "  server pid {} RSS MiB: baseline {:.1f}, streams open {:.1f}, "
        "burst done {:.1f}, peak sampled {:.1f} (VmHWM {:.1f})\n",
        r.server_pid, MiB(r.baseline.rss_bytes), MiB(r.watchers_open.rss_bytes),
        MiB(r.burst_done.rss_bytes), MiB(r.peak_rss_bytes),
        MiB(r.burst_done.peak_rss_bytes));
    if (r.released_measured) {
      out += fmt::format(
          "  after release ({:.1f} s for retention to empty List): {:.1f} "
          "MiB, {:+.1f} MiB vs baseline (allowed {:.1f}): {}\n",
          r.release_wait_s, MiB(r.released.rss_bytes), r.memory.delta_mib,
          r.memory.allowed_mib,
          r.memory.returned ? "returned" : "NOT returned");
    }
    out +=
        fmt::format("  server threads {} -> {}, peak open fds {}\n",
                    r.baseline.threads, r.burst_done.threads, r.open_fds_peak);
  }
  out += fmt::format("  load average {:.2f} -> {:.2f}; {} ; {:.1f} s total\n",
                     r.load_before, r.load_after, r.machine, r.total_s);
  out += r.passed() ? "  PASS\n" : "  FAIL:\n";
  for (const std::string& p : r.problems) out += "    " + p + "\n";
  return out;
}

}  // namespace impulse::load
