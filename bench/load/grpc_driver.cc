// gRPC load: a few threads, each with its own CompletionQueue, drive many
// clients with the async API, so a thousand clients need no thousand
// threads. Each client runs one job at a time and starts the next as soon as
// its last one ended. Every CQ tag is a small object with one method to call.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "bench/load/driver.h"
#include "bench/load/grpc_async.h"
#include "impulse/v1/jobs.grpc.pb.h"

namespace impulse::load {
namespace {

// One thread and its CompletionQueue. The queue shuts down when the last of
// its clients retires, which ends the thread's loop.
class Worker {
 public:
  explicit Worker(Clock::duration counted_from) {
    recorder_.set_counted_from(counted_from);
  }
  grpc::CompletionQueue* cq() { return &cq_; }
  Recorder& recorder() { return recorder_; }
  void AddClient() { active_.fetch_add(1); }
  // A client that will start no more calls on this queue.
  void Retire() {
    if (active_.fetch_sub(1) == 1) cq_.Shutdown();
  }
  void Run() {
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) static_cast<Tag*>(tag)->Done(ok);
  }

 private:
  grpc::CompletionQueue cq_;
  Recorder recorder_;
  std::atomic<int> active_{0};
};

struct Shared {
  const LoadOptions& options;
  const v1::JobSpec& base_spec;
  IssueGate& gate;
  Clock::time_point start;
};

class WatchRound;

// One client: one job at a time, as Run, Execute, Submit + Watch, Submit, or
// (watch mode) a Watch of the round's job.
class Client {
 public:
  Client(Shared& shared, Worker& worker, v1::JobService::Stub* stub)
      : shared_(shared), worker_(worker), stub_(stub) {
    worker_.AddClient();
    submit_request_.mutable_spec()->CopyFrom(shared_.base_spec);
    run_request_.mutable_spec()->CopyFrom(shared_.base_spec);
  }

  void Start() { NextJob(); }

  // Watch mode: watches `job_id` to its end as part of `round`.
  void WatchJob(WatchRound* round, const std::string& job_id,
                Clock::time_point start, Clock::time_point submitted) {
    round_ = round;
    start_ = start;
    submitted_at_ = submitted;
    watch_request_.set_id(job_id);
    StartWatch();
  }
  void Retire() { worker_.Retire(); }

 private:
  void NewContext() {
    context_.emplace();
    const auto timeout = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(shared_.options.rpc_timeout_s));
    const Clock::time_point deadline =
        std::min(Clock::now() + timeout, shared_.gate.plan().hard_end);
    deadline_ = deadline;
    // gRPC deadlines are on the system clock.
    context_->set_deadline(std::chrono::system_clock::now() +
                           (deadline - Clock::now()));
  }

  void NextJob() {
    const std::optional<std::uint64_t> index = shared_.gate.Next();
    if (!index) {
      worker_.Retire();
      return;
    }
    final_state_ = v1::JOB_STATE_UNSPECIFIED;
    seen_first_ = false;
    NewContext();
    start_ = Clock::now();
    if (shared_.options.mode == Mode::kRun) {
      SpecForJob(shared_.options, *index, run_request_.mutable_spec());
      reader_ = stub_->PrepareAsyncRun(&*context_, run_request_, worker_.cq());
      reader_->StartCall(&started_tag_);
    } else if (shared_.options.mode == Mode::kExecute) {
      SpecForJob(shared_.options, *index, run_request_.mutable_spec());
      responder_ =
          stub_->PrepareAsyncExecute(&*context_, run_request_, worker_.cq());
      responder_->StartCall();
      responder_->Finish(&job_, &status_, &executed_tag_);
    } else {
      SpecForJob(shared_.options, *index, submit_request_.mutable_spec());
      responder_ =
          stub_->PrepareAsyncSubmit(&*context_, submit_request_, worker_.cq());
      responder_->StartCall();
      responder_->Finish(&job_, &status_, &submitted_tag_);
    }
  }

  void OnSubmitted(bool /*ok*/) {
    const Clock::time_point now = Clock::now();
    if (!status_.ok()) {
      RecordCallError();
      NextJob();
      return;
    }
    if (shared_.options.mode == Mode::kSubmit) {
      Record().Ok(start_ - shared_.start, now - shared_.start,
                  now - shared_.start);
      NextJob();
      return;
    }
    submitted_at_ = now;
    watch_request_.set_id(job_.id());
    StartWatch();
  }

  void OnExecuted(bool /*ok*/) {
    const Clock::time_point now = Clock::now();
    if (!status_.ok()) {
      RecordCallError();
    } else {
      RecordJobEnd(job_.state(), now, now);
    }
    NextJob();
  }

  void StartWatch() {
    final_state_ = v1::JOB_STATE_UNSPECIFIED;
    seen_first_ = true;  // the submit time is already known
    NewContext();
    reader_ =
        stub_->PrepareAsyncWatch(&*context_, watch_request_, worker_.cq());
    reader_->StartCall(&started_tag_);
  }

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
    const Clock::time_point now = Clock::now();
    ++events_;
    if (!seen_first_) {  // Run: the first event says the job was accepted
      seen_first_ = true;
      submitted_at_ = now;
    }
    if (event_.type() == v1::STATE_CHANGED && IsTerminal(event_.state())) {
      final_state_ = event_.state();
      ended_at_ = now;
    }
    reader_->Read(&event_, &read_tag_);
  }

  void OnFinished(bool /*ok*/) {
    Recorder& recorder = Record();
    recorder.Events(events_);
    events_ = 0;
    if (final_state_ != v1::JOB_STATE_UNSPECIFIED) {
      RecordJobEnd(final_state_, submitted_at_, ended_at_);
    } else if (!status_.ok()) {
      RecordCallError();
    } else {
      recorder.Error("STREAM_ENDED_EARLY", start_ - shared_.start);
    }
    reader_.reset();
    if (round_ != nullptr) {
      WatcherDone();
    } else {
      NextJob();
    }
  }

  // A job that ended: counted when it SUCCEEDED, else an error named after
  // its state.
  void RecordJobEnd(v1::JobState state, Clock::time_point submitted,
                    Clock::time_point ended) {
    if (state == v1::SUCCEEDED) {
      Record().Ok(start_ - shared_.start, submitted - shared_.start,
                  ended - shared_.start);
    } else {
      Record().Error("JOB_" + v1::JobState_Name(state), start_ - shared_.start);
    }
  }

  void RecordCallError() {
    if (status_.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
        deadline_ >= shared_.gate.plan().hard_end) {
      Record().CutOff();
    } else {
      Record().Error(CodeName(status_), start_ - shared_.start);
    }
  }

  Recorder& Record() { return worker_.recorder(); }
  void WatcherDone();

  Shared& shared_;
  Worker& worker_;
  v1::JobService::Stub* stub_;
  WatchRound* round_ = nullptr;

  std::optional<grpc::ClientContext> context_;
  Clock::time_point deadline_;
  v1::RunRequest run_request_;
  v1::SubmitRequest submit_request_;
  v1::WatchRequest watch_request_;
  v1::Job job_;
  v1::JobEvent event_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncReader<v1::JobEvent>> reader_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::Job>> responder_;
  Clock::time_point start_, submitted_at_, ended_at_;
  v1::JobState final_state_ = v1::JOB_STATE_UNSPECIFIED;
  bool seen_first_ = false;
  std::uint64_t events_ = 0;

  MemberTag<Client, &Client::OnSubmitted> submitted_tag_{this};
  MemberTag<Client, &Client::OnExecuted> executed_tag_{this};
  MemberTag<Client, &Client::OnStarted> started_tag_{this};
  MemberTag<Client, &Client::OnRead> read_tag_{this};
  MemberTag<Client, &Client::OnFinished> finished_tag_{this};
};

// Watch mode: each round submits one job, then every client watches it to
// its end; the last watcher to finish starts the next round.
class WatchRound {
 public:
  WatchRound(Shared& shared, Worker& worker, v1::JobService::Stub* stub,
             std::vector<Client*> watchers)
      : shared_(shared),
        worker_(worker),
        stub_(stub),
        watchers_(std::move(watchers)) {
    worker_.AddClient();
    request_.mutable_spec()->CopyFrom(shared_.base_spec);
  }

  void NextRound() {
    const std::optional<std::uint64_t> index = shared_.gate.Next();
    if (!index) {
      for (Client* watcher : watchers_) watcher->Retire();
      worker_.Retire();
      return;
    }
    ++rounds_;
    SpecForJob(shared_.options, *index, request_.mutable_spec());
    context_.emplace();
    context_->set_deadline(std::chrono::system_clock::now() +
                           (shared_.gate.plan().hard_end - Clock::now()));
    start_ = Clock::now();
    responder_ = stub_->PrepareAsyncSubmit(&*context_, request_, worker_.cq());
    responder_->StartCall();
    responder_->Finish(&job_, &status_, &submitted_tag_);
  }

  void WatcherDone() {
    if (remaining_.fetch_sub(1) == 1) NextRound();
  }
  std::uint64_t rounds() const { return rounds_; }

 private:
  void OnSubmitted(bool /*ok*/) {
    const Clock::time_point now = Clock::now();
    if (!status_.ok()) {
      worker_.recorder().Error(CodeName(status_), start_ - shared_.start);
      NextRound();
      return;
    }
    remaining_.store(static_cast<int>(watchers_.size()));
    for (Client* watcher : watchers_) {
      watcher->WatchJob(this, job_.id(), start_, now);
    }
  }

  Shared& shared_;
  Worker& worker_;
  v1::JobService::Stub* stub_;
  std::vector<Client*> watchers_;
  std::optional<grpc::ClientContext> context_;
  v1::SubmitRequest request_;
  v1::Job job_;
  grpc::Status status_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::Job>> responder_;
  Clock::time_point start_;
  std::atomic<int> remaining_{0};
  std::atomic<std::uint64_t> rounds_{0};
  MemberTag<WatchRound, &WatchRound::OnSubmitted> submitted_tag_{this};
};

void Client::WatcherDone() { round_->WatcherDone(); }

class GrpcDriver final : public LoadDriver {
 public:
  GrpcDriver(const LoadOptions& options, const v1::JobSpec& base_spec)
      : options_(options), base_spec_(base_spec) {}

  std::string Connect() override {
    const int channels = options_.channels > 0 ? options_.channels
                                               : std::min(options_.clients, 4);
    for (int i = 0; i < channels; ++i) {
      grpc::ChannelArguments args;
      // A pool per channel: each channel gets its own TCP connection.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetMaxReceiveMessageSize(64 << 20);
      auto channel = grpc::CreateCustomChannel(
          options_.target, grpc::InsecureChannelCredentials(), args);
      if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                     std::chrono::seconds(5))) {
        return "cannot connect to " + options_.target + " within 5 s";
      }
      stubs_.push_back(v1::JobService::NewStub(channel));
      channels_.push_back(std::move(channel));
    }
    return "";
  }

  void Start(const RunPlan& plan) override {
    gate_.emplace(plan);
    shared_.emplace(Shared{options_, base_spec_, *gate_, plan.start});
    for (int i = 0; i < options_.threads; ++i) {
      workers_.push_back(std::make_unique<Worker>(plan.warm_end - plan.start));
    }
    for (int i = 0; i < options_.clients; ++i) {
      clients_.push_back(
          std::make_unique<Client>(*shared_, *workers_[i % workers_.size()],
                                   stubs_[i % stubs_.size()].get()));
    }
    if (options_.mode == Mode::kWatch) {
      std::vector<Client*> watchers;
      for (auto& client : clients_) watchers.push_back(client.get());
      round_ = std::make_unique<WatchRound>(*shared_, *workers_[0],
                                            stubs_[0].get(), watchers);
    }
    for (auto& worker : workers_) {
      threads_.emplace_back([w = worker.get()] { w->Run(); });
    }
    if (round_ != nullptr) {
      round_->NextRound();
    } else {
      for (auto& client : clients_) client->Start();
    }
  }

  Recorder Wait() override {
    for (std::thread& thread : threads_) thread.join();
    Recorder merged(0);
    for (auto& worker : workers_) merged.Merge(worker->recorder());
    return merged;
  }

  std::uint64_t rounds() const override {
    return round_ != nullptr ? round_->rounds() : 0;
  }

 private:
  const LoadOptions& options_;
  const v1::JobSpec& base_spec_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::JobService::Stub>> stubs_;
  std::optional<IssueGate> gate_;
  std::optional<Shared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::unique_ptr<WatchRound> round_;
  std::vector<std::thread> threads_;
};

}  // namespace

RunPlan RunPlan::From(const LoadOptions& options, Clock::time_point start) {
  auto seconds = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(s));
  };
  RunPlan plan;
  plan.start = start;
  plan.warm_end = start + seconds(options.warmup_s);
  plan.stop = start + seconds(options.duration_s);
  plan.hard_end = plan.stop + seconds(options.drain_s);
  plan.max_jobs = options.jobs;
  return plan;
}

std::unique_ptr<LoadDriver> MakeGrpcDriver(const LoadOptions& options,
                                           const v1::JobSpec& base_spec) {
  return std::make_unique<GrpcDriver>(options, base_spec);
}

}  // namespace impulse::load
