#include "server/metrics/proc_stats.h"

#include <algorithm>
#include <charconv>

namespace impulse::metrics {
namespace {

// Splits off the next line (without '\n') from `text`.
std::string_view NextLine(std::string_view& text) {
  const auto nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text =
      nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  return line;
}

void SkipSpaces(std::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
}

// Parses the next unsigned integer after optional blanks; false when none.
bool NextUint(std::string_view& s, std::uint64_t& out) {
  SkipSpaces(s);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  if (r.ec != std::errc()) return false;
  s.remove_prefix(static_cast<std::size_t>(r.ptr - s.data()));
  return true;
}

CpuTimes ParseCpuFields(std::string_view rest) {
  CpuTimes t;
  std::uint64_t* fields[] = {&t.user,   &t.nice, &t.system,  &t.idle,
                             &t.iowait, &t.irq,  &t.softirq, &t.steal};
  for (std::uint64_t* f : fields) {
    if (!NextUint(rest, *f)) break;
  }
  return t;
}

std::uint64_t Delta(std::uint64_t before, std::uint64_t after) {
  return after > before ? after - before : 0;
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  ProcStat stat;
  bool have_total = false;
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    if (!line.starts_with("cpu")) continue;
    line.remove_prefix(3);
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      stat.total = ParseCpuFields(line);
      have_total = true;
      continue;
    }
    std::uint64_t id = 0;
    const auto r = std::from_chars(line.data(), line.data() + line.size(), id);
    if (r.ec != std::errc() || id > 65535) continue;
    line.remove_prefix(static_cast<std::size_t>(r.ptr - line.data()));
    if (stat.cores.size() <= id) stat.cores.resize(id + 1);
    stat.cores[id] = ParseCpuFields(line);
  }
  if (!have_total) return std::nullopt;
  return stat;
}

double BusyFraction(const CpuTimes& before, const CpuTimes& after) {
  const std::uint64_t idle =
      Delta(before.idle, after.idle) + Delta(before.iowait, after.iowait);
  const std::uint64_t busy =
      Delta(before.user, after.user) + Delta(before.nice, after.nice) +
      Delta(before.system, after.system) + Delta(before.irq, after.irq) +
      Delta(before.softirq, after.softirq) + Delta(before.steal, after.steal);
  const std::uint64_t total = idle + busy;
  if (total == 0) return 0.0;
  return std::clamp(static_cast<double>(busy) / static_cast<double>(total), 0.0,
                    1.0);
}

std::vector<double> PerCoreBusyFractions(const ProcStat& before,
                                         const ProcStat& after) {
  std::vector<double> out(after.cores.size(), 0.0);
  for (std::size_t i = 0; i < after.cores.size() && i < before.cores.size();
       ++i) {
    out[i] = BusyFraction(before.cores[i], after.cores[i]);
  }
  return out;
}

std::optional<MemInfo> ParseMeminfo(std::string_view text) {
  std::optional<std::uint64_t> total, available;
  std::uint64_t free = 0, buffers = 0, cached = 0, reclaimable = 0;
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    std::string_view rest = line.substr(colon + 1);
    std::uint64_t value = 0;
    if (!NextUint(rest, value)) continue;
    SkipSpaces(rest);
    if (rest.starts_with("kB")) value *= 1024;
    if (key == "MemTotal") {
      total = value;
    } else if (key == "MemAvailable") {
      available = value;
    } else if (key == "MemFree") {
      free = value;
    } else if (key == "Buffers") {
      buffers = value;
    } else if (key == "Cached") {
      cached = value;
    } else if (key == "SReclaimable") {
      reclaimable = value;
    }
  }
  if (!total) return std::nullopt;
  MemInfo info;
  info.total_bytes = *total;
  info.available_bytes =
      available ? *available : free + buffers + cached + reclaimable;
  info.available_bytes = std::min(info.available_bytes, info.total_bytes);
  return info;
}

}  // namespace impulse::metrics
