#include <gtest/gtest.h>

#include "bench/load/burst.h"
#include "bench/load/options.h"
#include "bench/load/stats.h"

namespace impulse::load {
namespace {

TEST(LoopbackTarget, AcceptsLoopbackNamesAndAddresses) {
  int port = 0;
  EXPECT_TRUE(IsLoopbackTarget("127.0.0.1:50051", &port));
  EXPECT_EQ(port, 50051);
  EXPECT_TRUE(IsLoopbackTarget("localhost:1", &port));
  EXPECT_TRUE(IsLoopbackTarget("127.1.2.3:8080", &port));
  EXPECT_TRUE(IsLoopbackTarget("[::1]:443", &port));
  EXPECT_EQ(port, 443);
  EXPECT_TRUE(IsLoopbackTarget("ipv4:127.0.0.1:9", &port));
  EXPECT_TRUE(IsLoopbackTarget("ipv6:[::1]:9", &port));
  EXPECT_TRUE(IsLoopbackTarget("unix:/tmp/impulse.sock", &port));
  EXPECT_EQ(port, 0);
}

TEST(LoopbackTarget, RefusesEverythingElse) {
  int port = 0;
  EXPECT_FALSE(IsLoopbackTarget("10.0.0.1:50051", &port));
  EXPECT_FALSE(IsLoopbackTarget("example.com:50051", &port));
  EXPECT_FALSE(IsLoopbackTarget("0.0.0.0:50051", &port));
  EXPECT_FALSE(IsLoopbackTarget("[2001:db8::1]:50051", &port));
  EXPECT_FALSE(IsLoopbackTarget("127.0.0.1", &port));
  EXPECT_FALSE(IsLoopbackTarget("127.0.0.1:0", &port));
  EXPECT_FALSE(IsLoopbackTarget("127.0.0.1:99999", &port));
  EXPECT_FALSE(IsLoopbackTarget("::1:50051", &port));
}

TEST(Validate, KeepsRunsBounded) {
  LoadOptions options;
  EXPECT_EQ(Validate(options), "");
  options.duration_s = 601;
  EXPECT_NE(Validate(options), "");
  options = LoadOptions{};
  options.jobs = kMaxJobs + 1;
  EXPECT_NE(Validate(options), "");
  options = LoadOptions{};
  options.protocol = Protocol::kRest;
  options.clients = kMaxRestClients + 1;
  EXPECT_NE(Validate(options), "");
  options = LoadOptions{};
  options.target = "192.0.2.1:50051";
  EXPECT_NE(Validate(options).find("loopback"), std::string::npos);
}

TEST(Spec, EveryJobGetsItsOwnSeedAndSkipsTheCache) {
  LoadOptions options;
  v1::JobSpec spec;
  ASSERT_EQ(BuildBaseSpec(options, &spec), "");
  EXPECT_EQ(spec.pi().samples(), 1000u);
  SpecForJob(options, 5, &spec);
  EXPECT_EQ(spec.pi().seed(), options.seed + 5);
  EXPECT_TRUE(spec.no_cache());
  options.same_seed = true;
  options.allow_cache = true;
  v1::JobSpec same;
  ASSERT_EQ(BuildBaseSpec(options, &same), "");
  SpecForJob(options, 5, &same);
  EXPECT_EQ(same.pi().seed(), options.seed);
  EXPECT_FALSE(same.no_cache());
}

TEST(Spec, ParsesJsonAndNamesTheFlag) {
  LoadOptions options;
  options.workload = "spec";
  options.spec_json = R"({"particles": {"randomParticles": 10, "tEnd": 1}})";
  v1::JobSpec spec;
  ASSERT_EQ(BuildBaseSpec(options, &spec), "");
  EXPECT_EQ(spec.particles().random_particles(), 10u);
  options.spec_json = "{\"pi\": 3}";
  EXPECT_NE(BuildBaseSpec(options, &spec).find("--spec"), std::string::npos);
  options.spec_json = "{}";
  EXPECT_NE(BuildBaseSpec(options, &spec).find("no job kind"),
            std::string::npos);
}

TEST(Summarize, NearestRankPercentiles) {
  std::vector<std::int64_t> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);
  const LatencySummary s = Summarize(samples);
  EXPECT_EQ(s.count, 100u);
  EXPECT_EQ(s.min_ns, 1);
  EXPECT_EQ(s.p50_ns, 50);
  EXPECT_EQ(s.p90_ns, 90);
  EXPECT_EQ(s.p99_ns, 99);
  EXPECT_EQ(s.max_ns, 100);
  EXPECT_DOUBLE_EQ(s.mean_ns, 50.5);
  std::vector<std::int64_t> one = {7};
  EXPECT_EQ(Summarize(one).p99_ns, 7);
  std::vector<std::int64_t> none;
  EXPECT_EQ(Summarize(none).count, 0u);
}

TEST(Recorder, LeavesOutTheWarmUpAndCountsErrorsByCode) {
  Recorder r;
  r.set_counted_from(std::chrono::seconds(1));
  r.Ok(std::chrono::milliseconds(500), std::chrono::milliseconds(501),
       std::chrono::milliseconds(502));
  r.Ok(std::chrono::seconds(2),
       std::chrono::seconds(2) + std::chrono::milliseconds(1),
       std::chrono::seconds(3));
  r.Error("UNAVAILABLE", std::chrono::seconds(2));
  r.Error("UNAVAILABLE", std::chrono::seconds(2));
  r.Error("INTERNAL", std::chrono::milliseconds(10));  // warm-up
  EXPECT_EQ(r.ok(), 1u);
  EXPECT_EQ(r.warmup_jobs(), 2u);
  EXPECT_EQ(r.errors(), 2u);
  EXPECT_EQ(r.errors_by_code().at("UNAVAILABLE"), 2u);
  EXPECT_EQ(r.submit_ns()[0], 1'000'000);
  EXPECT_EQ(r.end_to_end_ns()[0], 1'000'000'000);
  Recorder merged(0);
  merged.Merge(r);
  merged.Merge(r);
  EXPECT_EQ(merged.ok(), 2u);
  EXPECT_EQ(merged.errors(), 4u);
}

v1::Job MakeJob(const std::string& id, v1::JobState state) {
  v1::Job job;
  job.set_id(id);
  job.set_state(state);
  return job;
}

TEST(Burst, TallyFindsLostDuplicatedAndUnfinishedJobs) {
  const std::vector<std::string> ids = {"a", "b", "c", "d"};
  const std::vector<v1::Job> listed = {
      MakeJob("a", v1::SUCCEEDED), MakeJob("b", v1::RUNNING),
      MakeJob("c", v1::CANCELLED), MakeJob("c", v1::CANCELLED),
      MakeJob("x", v1::SUCCEEDED)};  // not this run's: ignored
  const JobTally t = TallyJobs(ids, listed);
  EXPECT_EQ(t.expected, 4u);
  EXPECT_EQ(t.found, 3u);
  EXPECT_EQ(t.missing, 1u);  // d
  EXPECT_EQ(t.duplicates, 1u);
  EXPECT_EQ(t.non_terminal, 1u);
  EXPECT_EQ(t.by_state.at("SUCCEEDED"), 1u);
  EXPECT_EQ(t.by_state.at("CANCELLED"), 1u);
  EXPECT_FALSE(t.all_terminal());
  EXPECT_TRUE(TallyJobs({"a"}, listed).all_terminal());
}

TEST(Burst, AWatcherPassesWithExactlyOneTerminalEventAndOk) {
  std::vector<WatchOutcome> outcomes(4);
  outcomes[0] = {true, 5, 1, "OK"};
  outcomes[1] = {true, 3, 0, "OK"};
  outcomes[2] = {true, 2, 2, "OK"};
  outcomes[3] = {false, 0, 0, "DEADLINE_EXCEEDED"};
  const WatchTally t = TallyWatchers(outcomes);
  EXPECT_EQ(t.watchers, 4u);
  EXPECT_EQ(t.opened, 3u);
  EXPECT_EQ(t.terminated, 1u);
  EXPECT_EQ(t.events, 10u);
  EXPECT_EQ(t.failures.at("no_terminal_event"), 1u);
  EXPECT_EQ(t.failures.at("several_terminal_events"), 1u);
  EXPECT_EQ(t.failures.at("status_DEADLINE_EXCEEDED"), 1u);
}

TEST(Burst, MemoryReturnsWithinTheLargerTolerance) {
  constexpr std::uint64_t kMiB = 1 << 20;
  // 16 MiB or 10%, whichever is larger.
  EXPECT_TRUE(JudgeMemory(22 * kMiB, 30 * kMiB, 16, 0.10).returned);
  EXPECT_FALSE(JudgeMemory(22 * kMiB, 158 * kMiB, 16, 0.10).returned);
  const MemoryVerdict big = JudgeMemory(400 * kMiB, 430 * kMiB, 16, 0.10);
  EXPECT_TRUE(big.returned);
  EXPECT_DOUBLE_EQ(big.allowed_mib, 40);
  EXPECT_DOUBLE_EQ(big.delta_mib, 30);
  EXPECT_FALSE(JudgeMemory(0, 30 * kMiB, 16, 0.10).measured);
}

TEST(Burst, ValidateBoundsTheScenario) {
  LoadOptions options;
  options.mode = Mode::kBurst;
  EXPECT_EQ(Validate(options), "");
  options.burst.watchers = kMaxWatchers + 1;
  EXPECT_NE(Validate(options).find("--watchers"), std::string::npos);
  options.burst.watchers = 10;
  options.burst.watch_jobs = 0;
  EXPECT_NE(Validate(options).find("--watch_jobs"), std::string::npos);
  options.burst.watch_jobs = 1;
  options.burst.burst_jobs = 0;
  EXPECT_NE(Validate(options).find("--burst_jobs"), std::string::npos);
  options.burst.burst_jobs = 1;
  options.protocol = Protocol::kRest;
  options.http_target = "127.0.0.1:8080";
  EXPECT_NE(Validate(options).find("gRPC only"), std::string::npos);
}

TEST(LoadOptionsTest, ExecuteIsGrpcOnly) {
  LoadOptions options;
  options.mode = Mode::kExecute;
  EXPECT_EQ(Validate(options), "");
  options.protocol = Protocol::kRest;
  EXPECT_EQ(Validate(options), "--mode=execute is gRPC only (the Execute RPC)");
}

}  // namespace
}  // namespace impulse::load
