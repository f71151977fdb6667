// The summary of one load run, printed for people or as one JSON object.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "bench/load/options.h"
#include "bench/load/proc_probe.h"
#include "bench/load/stats.h"

namespace impulse::load {

struct Report {
  LoadOptions options;
  std::string spec_json;  // the base JobSpec
  std::string machine;
  double window_s = 0;  // from the warm-up's end to the last counted job's end
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;
  std::map<std::string, std::uint64_t> errors_by_code;
  std::uint64_t cut_off = 0;
  std::uint64_t warmup_jobs = 0;
  std::uint64_t events = 0;
  std::uint64_t rounds = 0;  // watch mode
  double jobs_per_s = 0;
  LatencySummary submit;
  LatencySummary end_to_end;
  int server_pid = 0;
  ProcessSample server_before, server_after;
  double client_cpu_seconds = 0;
  double machine_busy = -1;  // 0..1 over the window
  double load_before = -1, load_after = -1;
};

std::string ToJson(const Report& report);
std::string ToText(const Report& report);

// Pieces of the JSON output, also used by the burst report: a quoted and
// escaped string; a latency summary in ms; an object of counts by name.
std::string JsonString(const std::string& text);
std::string LatencyJson(const LatencySummary& s);
std::string CountsJson(const std::map<std::string, std::uint64_t>& counts);

}  // namespace impulse::load
