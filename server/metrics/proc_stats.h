// Pure parsers for Linux /proc/stat and /proc/meminfo and the CPU busy-fraction
// math between two /proc/stat samples. They take the file's text, so tests feed
// fixed input and nothing here touches the file system.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace impulse::metrics {

// Cumulative CPU time of one "cpu" line of /proc/stat, in USER_HZ ticks.
// guest/guest_nice are already counted in user/nice and are not kept.
struct CpuTimes {
  std::uint64_t user = 0;
  std::uint64_t nice = 0;
  std::uint64_t system = 0;
  std::uint64_t idle = 0;
  std::uint64_t iowait = 0;
  std::uint64_t irq = 0;
  std::uint64_t softirq = 0;
  std::uint64_t steal = 0;

  std::uint64_t Idle() const { return idle + iowait; }
  std::uint64_t Total() const {
    return user + nice + system + idle + iowait + irq + softirq + steal;
  }
  bool operator==(const CpuTimes&) const = default;
};

struct ProcStat {
  CpuTimes total;               // the aggregate "cpu" line
  std::vector<CpuTimes> cores;  // indexed by cpu number ("cpu3" -> cores[3]);
                                // an offline cpu in a gap reads as zeros
};

// Parses /proc/stat text. nullopt when there is no aggregate "cpu" line.
// Missing trailing fields (old kernels) read as 0.
std::optional<ProcStat> ParseProcStat(std::string_view text);

// Busy fraction in [0, 1] between two samples of the same cpu:
// (delta total - delta idle - delta iowait) / delta total. 0 when no time
// passed. A field that went backwards (cpu hot-plug) counts as no change.
double BusyFraction(const CpuTimes& before, const CpuTimes& after);

// BusyFraction per core; the result has after.cores.size() entries and a core
// missing from `before` reads 0.
std::vector<double> PerCoreBusyFractions(const ProcStat& before,
                                         const ProcStat& after);

struct MemInfo {
  std::uint64_t total_bytes = 0;
  std::uint64_t available_bytes = 0;
  std::uint64_t used_bytes() const {
    return total_bytes > available_bytes ? total_bytes - available_bytes : 0;
  }
};

// Parses /proc/meminfo text ("MemTotal:  24684096 kB" lines). Available is
// MemAvailable, or MemFree + Buffers + Cached + SReclaimable on kernels before
// 3.14. nullopt when MemTotal is missing.
std::optional<MemInfo> ParseMeminfo(std::string_view text);

}  // namespace impulse::metrics
