#include "bench/load/report.h"

#include <fmt/format.h>

namespace impulse::load {

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

namespace {
double Ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }
}  // namespace

std::string LatencyJson(const LatencySummary& s) {
  return fmt::format(
      "{{\"count\": {}, \"mean_ms\": {:.4f}, \"min_ms\": {:.4f}, \"p50_ms\": "
      "{:.4f}, \"p90_ms\": {:.4f}, \"p99_ms\": {:.4f}, \"max_ms\": {:.4f}}}",
      s.count, s.mean_ns / 1e6, Ms(s.min_ns), Ms(s.p50_ns), Ms(s.p90_ns),
      Ms(s.p99_ns), Ms(s.max_ns));
}

std::string CountsJson(const std::map<std::string, std::uint64_t>& counts) {
  std::string out = "{";
  for (const auto& [key, n] : counts) {
    if (out.size() > 1) out += ", ";
    out += fmt::format("{}: {}", JsonString(key), n);
  }
  return out + "}";
}

namespace {

double ServerCpuPercent(const Report& r) {
  if (!r.server_before.valid || !r.server_after.valid) return -1;
  const double wall =
      std::chrono::duration<double>(r.server_after.time - r.server_before.time)
          .count();
  if (wall <= 0) return -1;
  return 100.0 * (r.server_after.cpu_seconds - r.server_before.cpu_seconds) /
         wall;
}

double ClientCpuPercent(const Report& r) {
  if (r.window_s <= 0) return -1;
  return 100.0 * r.client_cpu_seconds / r.window_s;
}

}  // namespace

std::string ToJson(const Report& r) {
  const std::string errors = CountsJson(r.errors_by_code);
  const LoadOptions& o = r.options;
  std::string server = "null";
  if (r.server_after.valid) {
    server = fmt::format(
        "{{\"pid\": {}, \"cpu_percent\": {:.1f}, \"cpu_seconds\": {:.3f}, "
        "\"rss_bytes\": {}, \"peak_rss_bytes\": {}, \"rss_before_bytes\": {}, "
        "\"threads\": {}}}",
        r.server_pid, ServerCpuPercent(r),
        r.server_after.cpu_seconds - r.server_before.cpu_seconds,
        r.server_after.rss_bytes, r.server_after.peak_rss_bytes,
        r.server_before.rss_bytes, r.server_after.threads);
  }
  return fmt::format(
      "{{\"protocol\": \"{}\", \"target\": {}, \"mode\": \"{}\", "
      "\"workload\": {}, \"spec\": {}, \"clients\": {}, \"threads\": {}, "
      "\"channels\": {}, \"duration_s\": {}, \"warmup_s\": {}, "
      "\"max_jobs\": {}, "
      "\"window_s\": {:.4f}, \"jobs\": {}, \"ok\": {}, \"errors\": {}, "
      "\"errors_by_code\": {}, \"cut_off\": {}, \"warmup_jobs\": {}, "
      "\"rounds\": {}, \"events\": {}, \"jobs_per_s\": {:.2f}, "
      "\"submit_latency\": {}, \"end_to_end_latency\": {}, \"server\": {}, "
      "\"client_cpu_percent\": {:.1f}, \"machine_busy_percent\": {:.1f}, "
      "\"load_average_before\": {:.2f}, \"load_average_after\": {:.2f}, "
      "\"machine\": {}}}",
      ProtocolName(o.protocol),
      JsonString(o.protocol == Protocol::kGrpc ? o.target : o.http_target),
      ModeName(o.mode), JsonString(o.workload), r.spec_json, o.clients,
      o.threads, o.channels, o.duration_s, o.warmup_s, o.jobs, r.window_s,
      r.ok + r.errors, r.ok, r.errors, errors, r.cut_off, r.warmup_jobs,
      r.rounds, r.events, r.jobs_per_s, LatencyJson(r.submit),
      LatencyJson(r.end_to_end), server, ClientCpuPercent(r),
      r.machine_busy >= 0 ? 100 * r.machine_busy : -1.0, r.load_before,
      r.load_after, JsonString(r.machine));
}

std::string ToText(const Report& r) {
  const LoadOptions& o = r.options;
  std::string out = fmt::format(
      "impulse load: {} {} mode={} workload={} clients={} ({} thread(s))\n",
      ProtocolName(o.protocol),
      o.protocol == Protocol::kGrpc ? o.target : o.http_target,
      ModeName(o.mode), o.workload, o.clients, o.threads);
  out += fmt::format("  spec: {}\n", r.spec_json);
  const bool watch = o.mode == Mode::kWatch;
  out += fmt::format("  {} {} ok, {} errors in {:.3f} s = {:.1f} {}/s{}\n",
                     watch ? "watch streams:" : "jobs:", r.ok, r.errors,
                     r.window_s, r.jobs_per_s, watch ? "streams" : "jobs",
                     watch ? fmt::format(" ({} jobs watched)", r.rounds) : "");
  if (r.warmup_jobs > 0 || r.cut_off > 0) {
    out +=
        fmt::format("  not counted: {} in the warm-up, {} cut off at the end\n",
                    r.warmup_jobs, r.cut_off);
  }
  auto line = [](const char* name, const LatencySummary& s) {
    return fmt::format(
        "  {:<22} p50 {:>9.3f}  p90 {:>9.3f}  p99 {:>9.3f}  max {:>9.3f} ms\n",
        name, Ms(s.p50_ns), Ms(s.p90_ns), Ms(s.p99_ns), Ms(s.max_ns));
  };
  const char* submit_name = o.mode == Mode::kRun       ? "accepted (1st event)"
                            : o.mode == Mode::kWatch   ? "submit (per round)"
                            : o.mode == Mode::kExecute ? "answer (= end to end)"
                                                       : "submit";
  out += line(submit_name, r.submit);
  out += line(o.mode == Mode::kSubmit ? "end to end (= submit)" : "end to end",
              r.end_to_end);
  if (r.events > 0) out += fmt::format("  events received: {}\n", r.events);
  if (!r.errors_by_code.empty()) {
    out += "  errors:";
    for (const auto& [code, n] : r.errors_by_code) {
      out += fmt::format(" {}={}", code, n);
    }
    out += "\n";
  }
  if (r.server_after.valid) {
    out += fmt::format(
        "  server pid {}: cpu {:.0f}% of one core, rss {:.1f} MiB (was {:.1f}, "
        "peak {:.1f}), {} threads\n",
        r.server_pid, ServerCpuPercent(r), r.server_after.rss_bytes / 1048576.0,
        r.server_before.rss_bytes / 1048576.0,
        r.server_after.peak_rss_bytes / 1048576.0, r.server_after.threads);
  } else {
    out +=
        "  server: not measured (no --server_pid and no local listener "
        "found)\n";
  }
  out += fmt::format(
      "  this client: cpu {:.0f}% of one core; machine busy {:.0f}%, load "
      "{:.2f} -> {:.2f} ({})\n",
      ClientCpuPercent(r), r.machine_busy >= 0 ? 100 * r.machine_busy : -1.0,
      r.load_before, r.load_after, r.machine);
  return out;
}

}  // namespace impulse::load
