// One hiredis connection to Redis, safe to share between threads (calls are
// serialised). A failed call drops the connection; the next call after a
// backoff (100 ms, doubling to 2 s) reconnects, and calls in between fail at
// once with kUnavailable instead of waiting on a dead server. Connections of
// one store share a RedisHealth, which logs an outage once, not per call.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compute/common/status.h"

struct redisContext;
struct redisReply;

namespace impulse::cluster {

// HOST:PORT from "redis://HOST:PORT" (port 6379 when left out); errors
// name `flag`.
struct RedisAddress {
  std::string host;
  int port = 6379;
  std::string ToString() const;
};
Result<RedisAddress> ParseRedisUrl(const std::string& url,
                                   const std::string& flag);

// Up or down, shared by the connections of one store.
class RedisHealth {
 public:
  explicit RedisHealth(std::string address) : address_(std::move(address)) {}
  bool up() const { return up_.load(std::memory_order_acquire); }
  // Logged at warn on the first failure of an outage only.
  void Failed(const std::string& reason);
  // Logged once when the store answers again.
  void Recovered();

 private:
  const std::string address_;
  std::atomic<bool> up_{true};
  std::mutex mu_;
  std::chrono::steady_clock::time_point down_since_;  // guarded by mu_
};

// A reply that frees itself.
using RedisReply = std::unique_ptr<redisReply, void (*)(redisReply*)>;

class RedisConnection {
 public:
  RedisConnection(RedisAddress address, RedisHealth* health,
                  std::chrono::milliseconds timeout);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Runs one command (binary-safe arguments). A Redis error reply is
  // kInternal with Redis's message; no connection is kUnavailable.
  Result<RedisReply> Command(const std::vector<std::string>& args);

 private:
  Status ConnectLocked();
  void DropLocked(const std::string& reason);

  const RedisAddress address_;
  RedisHealth* const health_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  redisContext* context_ = nullptr;  // guarded by mu_
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};
};

}  // namespace impulse::cluster
