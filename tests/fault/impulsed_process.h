// One real impulsed process for the fault tests. Its log (stderr) goes to a
// pipe that a thread of the test reads, so the log is complete even when the
// server runs under a file size limit; the ports it picked (port 0) are read
// from that log. Optionally started under RLIMIT_FSIZE, the way `ulimit -f`
// or `prlimit --fsize` would (it works as root, unlike chmod).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace impulse::testing {

using namespace std::chrono_literals;

class ImpulsedProcess {
 public:
  struct Options {
    std::string data_dir;
    std::vector<std::string> args;          // beyond listen and data_dir
    std::optional<rlim_t> file_size_limit;  // bytes; RLIMIT_FSIZE
  };

  explicit ImpulsedProcess(Options options) : options_(std::move(options)) {}
  ~ImpulsedProcess() {
    Kill();
    if (reader_.joinable()) reader_.join();
  }

  // Spawns the server and waits until it serves gRPC and HTTP. False when it
  // exited first (exit_status() then says how) or did not serve in time.
  bool Start(std::chrono::milliseconds timeout = 30s) {
    std::vector<std::string> args = {
        "server/impulsed", "--grpc_listen=127.0.0.1:0",
        "--http_listen=127.0.0.1:0", "--data_dir=" + options_.data_dir,
        "--cpu_threads=2"};
    args.insert(args.end(), options_.args.begin(), options_.args.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return false;
    {
      std::lock_guard lock(mu_);
      log_.clear();
      eof_ = false;
    }
    exit_status_.reset();
    const std::optional<rlim_t> limit = options_.file_size_limit;
    pid_ = fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls from here to exec.
      dup2(fds[1], 1);
      dup2(fds[1], 2);
      if (limit.has_value()) {
        struct rlimit rl = {*limit, *limit};
        setrlimit(RLIMIT_FSIZE, &rl);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    if (reader_.joinable()) reader_.join();
    reader_ = std::thread([this, fd = fds[0]] { ReadLog(fd); });
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string log = Log();
      std::smatch grpc, http;
      static const std::regex kGrpc(R"(impulsed serving grpc=\S+ port=(\d+))");
      static const std::regex kHttp(
          R"(http gateway serving http=\S+ port=(\d+))");
      if (std::regex_search(log, grpc, kGrpc) &&
          std::regex_search(log, http, kHttp)) {
        grpc_port_ = std::stoi(grpc[1]);
        http_port_ = std::stoi(http[1]);
        return true;
      }
      if (Exited()) return false;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  pid_t pid() const { return pid_; }
  std::string grpc_target() const {
    return "127.0.0.1:" + std::to_string(grpc_port_);
  }

  std::string Log() const {
    std::lock_guard lock(mu_);
    return log_;
  }
  // Waits until the log contains `text`.
  bool WaitForLog(const std::string& text,
                  std::chrono::milliseconds timeout = 10s) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return log_.find(text) != std::string::npos || eof_;
    }) && log_.find(text) != std::string::npos;
  }

  // True once the process has exited (and was reaped).
  bool Exited() {
    if (exit_status_.has_value()) return true;
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return true;
    }
    return false;
  }
  // The exit code (or 128 + signal); -1 when it did not exit in time.
  int WaitExit(std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!Exited()) {
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(10ms);
    }
    return WIFEXITED(*exit_status_) ? WEXITSTATUS(*exit_status_)
                                    : 128 + WTERMSIG(*exit_status_);
  }
  int Terminate(std::chrono::milliseconds timeout = 30s) {
    if (pid_ > 0) kill(pid_, SIGTERM);
    return WaitExit(timeout);
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    WaitExit();
  }

  // CPU time the server has used (all threads, user and system), from /proc.
  double CpuSeconds() const {
    std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
    std::string line;
    std::getline(stat, line);
    // Fields after the ")" that ends the command name: state is field 3,
    // utime 14, stime 15.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    long ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i >= 14) ticks += std::stol(field);
    }
    return static_cast<double>(ticks) /
           static_cast<double>(sysconf(_SC_CLK_TCK));
  }

  // Resident memory of the server, from /proc.
  long RssKiB() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
  }

 private:
  void ReadLog(int fd) {
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      std::lock_guard lock(mu_);
      log_.append(buf, static_cast<std::size_t>(n));
      cv_.notify_all();
    }
    close(fd);
    std::lock_guard lock(mu_);
    eof_ = true;
    cv_.notify_all();
  }

  const Options options_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
  std::thread reader_;
};

// A plain HTTP/1.1 exchange on its own connection (Connection: close).
struct HttpAnswer {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

inline HttpAnswer HttpRequest(int port, const std::string& method,
                              const std::string& target,
                              const std::string& body = "") {
  HttpAnswer answer;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return answer;
  }
  std::string request = method + " " + target +
                        " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
                        "Content-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)!write(fd, request.data(), request.size());
  std::string raw;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  const std::size_t end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) return answer;
  answer.status = std::stoi(raw.substr(9, 3));
  answer.head = raw.substr(0, end);
  answer.body = raw.substr(end + 4);
  return answer;
}

inline std::string FaultTempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir =
      std::string(base != nullptr ? base : "/tmp") + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace impulse::testing
