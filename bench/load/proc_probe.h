// Reads a process's CPU time and memory from /proc (the server under load,
// and this process), and the whole machine's CPU use, so a run reports what
// it cost and how busy the machine was.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace impulse::load {

struct ProcessSample {
  bool valid = false;
  double cpu_seconds = 0;  // user + system
  std::uint64_t rss_bytes = 0;
  std::uint64_t peak_rss_bytes = 0;  // VmHWM
  int threads = 0;
  std::chrono::steady_clock::time_point time;
};

// /proc/<pid>; valid = false when it cannot be read (gone, not ours).
ProcessSample SampleProcess(int pid);

struct MachineSample {
  bool valid = false;
  std::uint64_t busy_ticks = 0;
  std::uint64_t total_ticks = 0;
};
MachineSample SampleMachine();
// Busy fraction of all cores between two samples, 0..1 (-1 when unknown).
double BusyFraction(const MachineSample& a, const MachineSample& b);

// Open file descriptors of `pid` (entries of /proc/<pid>/fd), or -1.
int CountOpenFds(int pid);

// The 1-minute load average, or -1.
double LoadAverage1();

// The process listening on this TCP port on this machine, or 0. Reads
// /proc/net/tcp{,6} for the socket's inode, then /proc/*/fd for its owner.
int FindListeningPid(int port);

// A short description of the machine: CPU model and online cores.
std::string DescribeMachine();

}  // namespace impulse::load
