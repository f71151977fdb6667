// The burst scenario of //bench:load (--mode=burst, issue #6): thousands of
// Watch streams held open while a burst of small jobs is submitted as fast as
// a bounded number of clients can, then checks that no job was lost and that
// the server's memory comes back once the finished jobs are released.
//
// Phases:
//  1. baseline: the server's RSS before anything.
//  2. hold: `hold_jobs` long jobs at a high priority take the CPU slots, so
//     the anchor jobs below stay queued while the watchers connect.
//  3. anchors: `watch_jobs` pi jobs at a low priority (below the burst), and
//     `watchers` Watch streams spread over them; each stream counts as open
//     once its first event (QUEUED) has arrived.
//  4. the hold jobs are cancelled, and `clients` clients submit `burst_jobs`
//     tiny jobs (Submit only, one call in flight each). Anchors run in the
//     gaps of the burst and after it, streaming progress to their watchers.
//  5. verify: List pages until every accepted job is terminal; each id must
//     appear exactly once, in a terminal state; every watcher must have got
//     exactly one terminal event and an OK status.
//  6. release (optional): wait until the server's retention has removed the
//     jobs (List is empty), let it settle, and sample RSS again.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/load/options.h"
#include "bench/load/proc_probe.h"
#include "bench/load/stats.h"
#include "impulse/v1/jobs.pb.h"

namespace impulse::load {

// What List said about the jobs this run submitted.
struct JobTally {
  std::uint64_t expected = 0;      // ids accepted by Submit
  std::uint64_t found = 0;         // of those, seen in List
  std::uint64_t missing = 0;       // accepted but not listed (lost)
  std::uint64_t duplicates = 0;    // listed more than once
  std::uint64_t non_terminal = 0;  // listed, not yet finished
  std::map<std::string, std::uint64_t> by_state;  // terminal states
  bool all_terminal() const {
    return missing == 0 && duplicates == 0 && non_terminal == 0;
  }
};

// Tallies `listed` (every job List returned, all pages) against `ids`.
JobTally TallyJobs(const std::vector<std::string>& ids,
                   const std::vector<v1::Job>& listed);

// One Watch stream's outcome, and the tally over all of them.
struct WatchOutcome {
  bool opened = false;  // got its first event
  std::uint64_t events = 0;
  std::uint64_t terminal_events = 0;  // must be exactly 1
  std::string status;                 // "OK" or the gRPC code name
};
struct WatchTally {
  std::uint64_t watchers = 0;
  std::uint64_t opened = 0;
  std::uint64_t terminated = 0;  // exactly one terminal event and OK
  std::uint64_t events = 0;
  std::map<std::string, std::uint64_t> failures;  // by reason
};
WatchTally TallyWatchers(const std::vector<WatchOutcome>& outcomes);

// The memory rule of the scenario: RSS after the release is back within
// max(tolerance_mib, tolerance_fraction * baseline) of the baseline.
struct MemoryVerdict {
  bool measured = false;
  bool returned = false;
  double delta_mib = 0;
  double allowed_mib = 0;
};
MemoryVerdict JudgeMemory(std::uint64_t baseline_bytes,
                          std::uint64_t released_bytes, double tolerance_mib,
                          double tolerance_fraction);

struct BurstReport {
  LoadOptions options;
  std::string machine;
  std::string burst_spec_json, anchor_spec_json;
  int server_pid = 0;
  // Submit of the burst's jobs.
  std::uint64_t submitted = 0;  // accepted
  std::map<std::string, std::uint64_t> submit_errors;
  double submit_window_s = 0;  // first submit start to last answer
  double submit_rate = 0;      // accepted jobs / submit window
  double burst_window_s = 0;   // first submit start to last burst job's end
  double jobs_per_s = 0;       // burst jobs finished / burst window
  LatencySummary submit;       // client: call start to answer
  LatencySummary end_to_end;   // server: create_time to end_time
  // Streams.
  double watchers_open_s = 0;  // to open every stream
  std::uint64_t peak_open_streams = 0;
  WatchTally watch;
  // Jobs: burst, anchors and hold jobs together.
  JobTally jobs;
  double verify_s = 0;
  // Server memory and threads (VmRSS; VmHWM is the kernel's peak).
  ProcessSample baseline, watchers_open, burst_done, released;
  std::uint64_t peak_rss_bytes = 0;  // highest VmRSS sampled (every 50 ms)
  bool released_measured = false;
  double release_wait_s = 0;
  MemoryVerdict memory;
  std::uint64_t open_fds_peak = 0;  // server fds, sampled
  double load_before = -1, load_after = -1;
  double total_s = 0;
  std::vector<std::string> problems;  // why the run failed, if it did
  bool passed() const { return problems.empty(); }
};

// Runs the scenario against options.target; `server_pid` may be 0 (then no
// memory figures).
BurstReport RunBurst(const LoadOptions& options, const v1::JobSpec& burst_spec,
                     int server_pid);

std::string BurstToJson(const BurstReport& report);
std::string BurstToText(const BurstReport& report);

}  // namespace impulse::load
