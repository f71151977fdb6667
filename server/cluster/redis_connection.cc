#include "server/cluster/redis_connection.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace impulse::cluster {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

timeval ToTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

void FreeReply(redisReply* reply) {
  if (reply != nullptr) freeReplyObject(reply);
}

}  // namespace

std::string RedisAddress::ToString() const {
  return host + ":" + std::to_string(port);
}

Result<RedisAddress> ParseRedisUrl(const std::string& url,
                                   const std::string& flag) {
  constexpr std::string_view kScheme = "redis://";
  const auto bad = [&](const std::string& why) {
    return Error::InvalidArgument(
        flag, "'" + url + "' " + why + "; expected redis://HOST:PORT");
  };
  if (url.rfind(kScheme, 0) != 0) return bad("does not start with redis://");
  std::string rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos ||
      rest.find('@') != std::string::npos) {
    return bad("has a path or credentials, which are not supported");
  }
  RedisAddress address;
  const std::size_t colon = rest.rfind(':');
  address.host = colon == std::string::npos ? rest : rest.substr(0, colon);
  if (colon != std::string::npos) {
    const std::string port = rest.substr(colon + 1);
    auto [ptr, ec] =
        std::from_chars(port.data(), port.data() + port.size(), address.port);
    if (ec != std::errc() || ptr != port.data() + port.size() ||
        address.port <= 0 || address.port > 65535) {
      return bad("has no valid port");
    }
  }
  if (address.host.empty()) return bad("has no host");
  return address;
}

void RedisHealth::Failed(const std::string& reason) {
  if (!up_.exchange(false)) return;
  {
    std::lock_guard lock(mu_);
    down_since_ = Clock::now();
  }
  spdlog::warn(
      "redis={} unreachable: {}; this replica is not ready (new work is "
      "refused with UNAVAILABLE) until it answers again; reconnecting with "
      "backoff",
      address_, reason);
}

void RedisHealth::Recovered() {
  if (up_.load(std::memory_order_acquire)) return;
  double seconds = 0;
  {
    std::lock_guard lock(mu_);
    if (up_.exchange(true)) return;
    seconds = std::chrono::duration<double>(Clock::now() - down_since_).count();
  }
  spdlog::info("redis={} reachable again after {:.1f} s; ready", address_,
               seconds);
}

RedisConnection::RedisConnection(RedisAddress address, RedisHealth* health,
                                 std::chrono::milliseconds timeout)
    : address_(std::move(address)), health_(health), timeout_(timeout) {}

RedisConnection::~RedisConnection() {
  if (context_ != nullptr) redisFree(context_);
}

Status RedisConnection::ConnectLocked() {
  if (context_ != nullptr) return {};
  const Clock::time_point now = Clock::now();
  if (now < next_attempt_) {
    return Error{
        ErrorCode::kUnavailable,
        "redis=" + address_.ToString() + " is unreachable (reconnecting)", ""};
  }
  const timeval tv = ToTimeval(timeout_);
  redisContext* context =
      redisConnectWithTimeout(address_.host.c_str(), address_.port, tv);
  if (context == nullptr || context->err != 0) {
    const std::string reason =
        context == nullptr ? "out of memory" : std::string(context->errstr);
    if (context != nullptr) redisFree(context);
    backoff_ = std::min(kMaxBackoff, std::max(kFirstBackoff, backoff_ * 2));
    next_attempt_ = now + backoff_;
    health_->Failed("connect: " + reason);
    return Error{ErrorCode::kUnavailable,
                 "redis=" + address_.ToString() + " unreachable: " + reason,
                 ""};
  }
  redisSetTimeout(context, tv);
  context_ = context;
  backoff_ = std::chrono::milliseconds(0);
  return {};
}

void RedisConnection::DropLocked(const std::string& reason) {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
  // Reconnect at the next call: a dropped connection after a long idle
  // period (or a Redis restart) is normal.
  backoff_ = std::max(backoff_, kFirstBackoff / 2);
  health_->Failed(reason);
}

Result<RedisReply> RedisConnection::Command(
    const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  std::lock_guard lock(mu_);
  const bool reused = context_ != nullptr;
  if (Status status = ConnectLocked(); !status.ok()) return status.error();
  auto* raw = static_cast<redisReply*>(redisCommandArgv(
      context_, static_cast<int>(args.size()), argv.data(), lengths.data()));
  if (raw == nullptr && reused &&
      (context_->err == REDIS_ERR_EOF ||
       (context_->err == REDIS_ERR_IO &&
        (errno == ECONNRESET || errno == EPIPE)))) {
    // A connection left from before a Redis restart: the server closed it
    // without running the command, so one retry on a new connection is
    // safe (and an outage that is already over is not logged again).
    redisFree(context_);
    context_ = nullptr;
    if (Status status = ConnectLocked(); !status.ok()) return status.error();
    raw = static_cast<redisReply*>(redisCommandArgv(
        context_, static_cast<int>(args.size()), argv.data(), lengths.data()));
  }
  if (raw == nullptr) {
    const std::string reason = context_->errstr;
    DropLocked(reason);
    return Error{ErrorCode::kUnavailable,
                 "redis=" + address_.ToString() + ": " + reason, ""};
  }
  RedisReply reply(raw, &FreeReply);
  if (reply->type == REDIS_REPLY_ERROR) {
    const std::string_view text(reply->str, reply->len);
    // A restarting Redis answers LOADING until its data is back: not ready
    // yet, like an outage.
    if (text.starts_with("LOADING") || text.starts_with("BUSY ")) {
      health_->Failed(std::string(text));
      return Error{ErrorCode::kUnavailable,
                   "redis=" + address_.ToString() + ": " + std::string(text),
                   ""};
    }
    health_->Recovered();
    return Error{
        ErrorCode::kInternal,
        "redis " + args.front() + ": " + std::string(reply->str, reply->len),
        ""};
  }
  health_->Recovered();
  return reply;
}

}  // namespace impulse::cluster
