#include "bench/load/proc_probe.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace impulse::load {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::uint64_t StatusKiB(const std::string& status, const std::string& key) {
  const std::size_t at = status.find("\n" + key + ":");
  if (at == std::string::npos) return 0;
  return std::strtoull(status.c_str() + at + key.size() + 2, nullptr, 10);
}

// Inode of the socket listening on `port` in /proc/net/tcp or tcp6, or 0.
unsigned long ListeningInode(const std::string& table, int port) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state != "0A") continue;  // TCP_LISTEN
    const std::size_t colon = local.rfind(':');
    if (colon == std::string::npos) continue;
    if (std::stoi(local.substr(colon + 1), nullptr, 16) != port) continue;
    std::string skip;
    for (int i = 0; i < 5; ++i) fields >> skip;  // tx/rx, tr, retrnsmt, uid, to
    unsigned long inode = 0;
    fields >> inode;
    if (inode != 0) return inode;
  }
  return 0;
}

}  // namespace

ProcessSample SampleProcess(int pid) {
  ProcessSample s;
  s.time = std::chrono::steady_clock::now();
  const std::string base = "/proc/" + std::to_string(pid);
  const std::string stat = ReadFile(base + "/stat");
  const std::size_t paren = stat.rfind(')');
  if (stat.empty() || paren == std::string::npos) return s;
  // Fields after "pid (comm)": state is field 3; utime 14, stime 15,
  // num_threads 20.
  std::istringstream fields(stat.substr(paren + 2));
  std::vector<std::string> f;
  std::string word;
  while (fields >> word && f.size() < 20) f.push_back(word);
  if (f.size() < 18) return s;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  s.threads = std::stoi(f[17]);
  const std::string status = ReadFile(base + "/status");
  s.rss_bytes = StatusKiB(status, "VmRSS") * 1024;
  s.peak_rss_bytes = StatusKiB(status, "VmHWM") * 1024;
  s.valid = true;
  return s;
}

MachineSample SampleMachine() {
  MachineSample s;
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  if (cpu != "cpu") return s;
  std::uint64_t v[8] = {};
  for (auto& x : v) in >> x;
  // user nice system idle iowait irq softirq steal
  for (auto x : v) s.total_ticks += x;
  s.busy_ticks = s.total_ticks - v[3] - v[4];
  s.valid = true;
  return s;
}

double BusyFraction(const MachineSample& a, const MachineSample& b) {
  if (!a.valid || !b.valid || b.total_ticks <= a.total_ticks) return -1;
  return static_cast<double>(b.busy_ticks - a.busy_ticks) /
         static_cast<double>(b.total_ticks - a.total_ticks);
}

int CountOpenFds(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* fds = opendir(dir.c_str());
  if (fds == nullptr) return -1;
  int n = 0;
  while (dirent* fd = readdir(fds)) {
    if (fd->d_name[0] != '.') ++n;
  }
  closedir(fds);
  return n;
}

double LoadAverage1() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

int FindListeningPid(int port) {
  if (port <= 0) return 0;
  unsigned long inode = ListeningInode("/proc/net/tcp", port);
  if (inode == 0) inode = ListeningInode("/proc/net/tcp6", port);
  if (inode == 0) return 0;
  const std::string want = "socket:[" + std::to_string(inode) + "]";
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  int found = 0;
  while (dirent* entry = readdir(proc)) {
    const int pid = std::atoi(entry->d_name);
    if (pid <= 0) continue;
    const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* fds = opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* fd = readdir(fds)) {
      char link[64];
      const std::string path = fd_dir + "/" + fd->d_name;
      const ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
      if (n <= 0) continue;
      if (std::string(link, n) == want) {
        found = pid;
        break;
      }
    }
    closedir(fds);
    if (found != 0) break;
  }
  closedir(proc);
  return found;
}

std::string DescribeMachine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(in, line)) {
    if (line.starts_with("model name")) {
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos) model = line.substr(colon + 2);
      break;
    }
  }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) +
         " cores";
}

}  // namespace impulse::load
