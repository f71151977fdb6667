// A real redis-server for tests: on a free loopback port, in its own
// directory, with an append-only file so a stop and restart keep its data
// (the way a Redis outage looks to the replicas). Tests skip, saying why,
// when redis-server is not installed (tools/install_deps.sh installs it).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace impulse::testing {

// The path of a program on PATH (or in /usr/sbin, where Debian puts
// haproxy); "" when missing.
inline std::string FindProgram(const std::string& name) {
  std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/usr/bin:/sbin";
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find(':', start), path.size());
    const std::filesystem::path candidate =
        std::filesystem::path(path.substr(start, end - start)) / name;
    if (end > start && access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
    start = end + 1;
  }
  return "";
}

// A loopback TCP port nobody listens on right now.
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// True once something accepts connections on the loopback port.
inline bool Listening(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Runs argv[0] with its output to `log_file`; the child's pid.
inline pid_t Spawn(const std::vector<std::string>& args,
                   const std::string& log_file) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* log = std::fopen(log_file.c_str(), "a");
    if (log != nullptr) {
      dup2(fileno(log), 1);
      dup2(fileno(log), 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

inline void StopProcess(pid_t& pid, int signal_number = SIGTERM) {
  if (pid <= 0) return;
  kill(pid, signal_number);
  int status = 0;
  waitpid(pid, &status, 0);
  pid = -1;
}

class RedisProcess {
 public:
  explicit RedisProcess(std::string dir) : dir_(std::move(dir)) {}
  ~RedisProcess() { Stop(); }

  static std::string Binary() { return FindProgram("redis-server"); }

  // Starts on a free port (the same port again after Stop); false when it
  // did not listen within the timeout.
  bool Start(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (port_ == 0) port_ = FreePort();
    std::filesystem::create_directories(dir_);
    pid_ = Spawn({Binary(), "--port", std::to_string(port_), "--bind",
                  "127.0.0.1", "--dir", dir_, "--save", "", "--appendonly",
                  "yes", "--appendfsync", "always", "--protected-mode", "no"},
                 dir_ + "/redis.log");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Listening(port_)) return true;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  void Stop() { StopProcess(pid_); }

  int port() const { return port_; }
  std::string url() const {
    return "redis://127.0.0.1:" + std::to_string(port_);
  }

 private:
  const std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

inline std::string TestTempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(base != nullptr ? base : "/tmp") + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A redis-server for a whole test suite (SetUpTestSuite), in TestTempDir
// `name`; null when redis-server is not installed or did not start (the
// tests then skip or fail, saying which).
inline std::unique_ptr<RedisProcess> StartSuiteRedis(const std::string& name) {
  if (RedisProcess::Binary().empty()) return nullptr;
  auto redis = std::make_unique<RedisProcess>(TestTempDir(name));
  if (!redis->Start()) return nullptr;
  return redis;
}

}  // namespace impulse::testing
