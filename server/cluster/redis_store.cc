#include "server/cluster/redis_store.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <limits>
#include <random>

#include "server/cluster/redis_scripts.h"
#include "server/core/clock.h"
#include "server/core/event_log.h"

namespace impulse::cluster {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kGroup = "impulse";
const std::string kPrefix = "impulse:";
const std::string kQueue = kPrefix + "queue";
const std::string kQueuedByTenant = kPrefix + "queued";

std::string JobKey(const std::string& id) { return kPrefix + "job:" + id; }
std::string EventsKey(const std::string& id) {
  return kPrefix + "events:" + id;
}
std::string LeaseKey(const std::string& id) { return kPrefix + "lease:" + id; }
std::string IndexKey(const std::string& tenant) {
  return kPrefix + "jobs:" + tenant;
}
std::string IdempotencyKey(const std::string& tenant, const std::string& key) {
  return kPrefix + "idem:" + tenant + '\x1f' + key;
}

// The text of a string, status or integer reply; "" for nil.
std::string Text(const redisReply* reply) {
  if (reply == nullptr) return "";
  switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(reply->str, reply->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(reply->integer);
    default:
      return "";
  }
}

std::uint64_t Number(const std::string& text) {
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// "<seq>-0" -> seq.
std::uint64_t SeqOfId(const std::string& id) {
  return Number(id.substr(0, id.find('-')));
}

Error BadReply(const std::string& what) {
  return Error{ErrorCode::kInternal, "unexpected redis reply to " + what, ""};
}

// One stream entry [id, [field, value, ...]] with field e = a JobEvent.
bool ParseEventEntry(const redisReply* entry, const std::string& job_id,
                     v1::JobEvent* event) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) return false;
  const redisReply* fields = entry->element[1];
  if (fields->type != REDIS_REPLY_ARRAY) return false;
  for (std::size_t i = 0; i + 1 < fields->elements; i += 2) {
    if (Text(fields->element[i]) != "e") continue;
    const redisReply* value = fields->element[i + 1];
    if (!event->ParseFromArray(value->str, static_cast<int>(value->len))) {
      return false;
    }
    event->set_seq(SeqOfId(Text(entry->element[0])));
    event->set_job_id(job_id);
    return true;
  }
  return false;
}

std::string DefaultReplicaName() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::mt19937_64 rng{std::random_device{}()};
  char suffix[9];
  std::snprintf(suffix, sizeof(suffix), "%08x",
                static_cast<unsigned>(rng() & 0xffffffffu));
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + suffix;
}

}  // namespace

Result<std::unique_ptr<RedisStore>> RedisStore::Open(
    RedisStoreOptions options) {
  Result<RedisAddress> address = ParseRedisUrl(options.url, "cluster_redis");
  if (!address.ok()) return address.error();
  std::unique_ptr<RedisStore> store(
      new RedisStore(std::move(options), address.value()));
  Result<RedisReply> pong = store->Run({"PING"});
  if (!pong.ok()) {
    return Error{ErrorCode::kUnavailable,
                 "cannot reach redis at " + address.value().ToString() + ": " +
                     pong.error().message,
                 "cluster_redis"};
  }
  // "0": a group made after jobs were queued still delivers them.
  Result<RedisReply> group =
      store->Run({"XGROUP", "CREATE", kQueue, kGroup, "0", "MKSTREAM"});
  if (!group.ok() &&
      group.error().message.find("BUSYGROUP") == std::string::npos) {
    return Error{ErrorCode::kUnavailable,
                 "cannot create the queue's consumer group in redis at " +
                     address.value().ToString() + ": " + group.error().message,
                 "cluster_redis"};
  }
  spdlog::info("cluster redis={} replica={} lease_ms={}",
               address.value().ToString(), store->replica_,
               store->options_.lease.count());
  return store;
}

RedisStore::RedisStore(RedisStoreOptions options, RedisAddress address)
    : options_(std::move(options)),
      address_(std::move(address)),
      description_("redis=" + address_.ToString()),
      replica_(options_.replica.empty() ? DefaultReplicaName()
                                        : options_.replica),
      health_(address_.ToString()),
      claim_connection_(address_, &health_, options_.timeout),
      follow_connection_(address_, &health_, options_.timeout) {
  for (std::size_t i = 0; i < std::max<std::size_t>(1, options_.pool_size);
       ++i) {
    pool_.push_back(std::make_unique<RedisConnection>(address_, &health_,
                                                      options_.timeout));
  }
}

RedisStore::~RedisStore() = default;

RedisConnection& RedisStore::Pooled() {
  return *pool_[next_pooled_.fetch_add(1, std::memory_order_relaxed) %
                pool_.size()];
}

Result<RedisReply> RedisStore::Run(const std::vector<std::string>& args) {
  return Pooled().Command(args);
}

Result<std::uint64_t> RedisStore::NextOrdinal() {
  Result<RedisReply> reply = Run({"INCR", kPrefix + "ordinal"});
  if (!reply.ok()) return reply.error();
  return static_cast<std::uint64_t>(reply.value()->integer);
}

Result<std::string> RedisStore::InsertQueued(const v1::Job& job,
                                             std::uint64_t ordinal,
                                             const v1::JobEvent& queued,
                                             const core::InsertLimits& limits) {
  const std::string& key = job.spec().idempotency_key();
  v1::Job view = job;
  view.clear_spec();
  Result<RedisReply> reply = Run(
      {"EVAL", scripts::kInsert, "6", JobKey(job.id()), EventsKey(job.id()),
       kQueue, IndexKey(job.tenant()), IdempotencyKey(job.tenant(), key),
       kQueuedByTenant, job.id(), view.SerializeAsString(), job.tenant(),
       std::to_string(ordinal), queued.SerializeAsString(),
       key.empty() ? "0" : "1", std::to_string(options_.max_events),
       job.spec().SerializeAsString(), std::to_string(limits.max_unfinished),
       std::to_string(limits.max_queued_per_tenant)});
  if (!reply.ok()) return reply.error();
  std::string id = Text(reply.value().get());
  if (id.empty()) {
    return Error{ErrorCode::kResourceExhausted,
                 "the cluster queue is full (" +
                     std::to_string(limits.max_unfinished) +
                     " unfinished jobs, --max_queued); retry later",
                 ""};
  }
  if (id.front() == '#') {
    return Error{ErrorCode::kResourceExhausted,
                 (job.tenant().empty() ? std::string("this cluster")
                                       : "tenant '" + job.tenant() + "'") +
                     " already has " + id.substr(1) +
                     " queued jobs in the cluster, the most allowed per "
                     "tenant (--tenant_max_queued); retry when some have "
                     "started",
                 ""};
  }
  return id;
}

Status RedisStore::Insert(const v1::Job& job, std::uint64_t ordinal) {
  v1::JobEvent queued;
  queued.set_seq(1);
  queued.set_job_id(job.id());
  queued.set_type(v1::STATE_CHANGED);
  queued.set_state(v1::QUEUED);
  *queued.mutable_time() = core::NowTimestamp();
  Result<std::string> id = InsertQueued(job, ordinal, queued, {});
  if (!id.ok()) return id.error();
  return {};
}

Result<std::optional<core::StoredJob>> RedisStore::Load(const std::string& id) {
  Result<RedisReply> reply = Run(
      {"HMGET", JobKey(id), "job", "ordinal", "result", "last_seq", "spec"});
  if (!reply.ok()) return reply.error();
  const redisReply* r = reply.value().get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 5) {
    return BadReply("HMGET");
  }
  if (r->element[0]->type != REDIS_REPLY_STRING) {
    return std::optional<core::StoredJob>();
  }
  core::StoredJob stored;
  if (!stored.job.ParseFromArray(r->element[0]->str,
                                 static_cast<int>(r->element[0]->len))) {
    return BadReply("HMGET (job)");
  }
  stored.ordinal = Number(Text(r->element[1]));
  if (r->element[2]->type == REDIS_REPLY_STRING) {
    stored.result.emplace();
    if (!stored.result->ParseFromArray(r->element[2]->str,
                                       static_cast<int>(r->element[2]->len))) {
      return BadReply("HMGET (result)");
    }
  }
  stored.job.set_last_seq(Number(Text(r->element[3])));
  if (!stored.job.mutable_spec()->ParseFromArray(
          r->element[4]->str, static_cast<int>(r->element[4]->len))) {
    return BadReply("HMGET (spec)");
  }
  return std::optional<core::StoredJob>(std::move(stored));
}

Result<std::vector<v1::JobEvent>> RedisStore::ReadEvents(
    const std::string& id, std::uint64_t after_seq, std::size_t max) {
  Result<RedisReply> reply =
      Run({"XRANGE", EventsKey(id), "(" + std::to_string(after_seq) + "-0", "+",
           "COUNT", std::to_string(max)});
  if (!reply.ok()) return reply.error();
  std::vector<v1::JobEvent> events;
  const redisReply* r = reply.value().get();
  if (r->type != REDIS_REPLY_ARRAY) return BadReply("XRANGE");
  for (std::size_t i = 0; i < r->elements; ++i) {
    v1::JobEvent event;
    if (!ParseEventEntry(r->element[i], id, &event)) return BadReply("XRANGE");
    events.push_back(std::move(event));
  }
  return events;
}

Result<std::vector<v1::JobEvent>> RedisStore::WaitEvents(
    const std::vector<std::pair<std::string, std::uint64_t>>& after,
    std::chrono::milliseconds wait) {
  std::vector<std::string> args = {
      "XREAD",  "COUNT", "256", "BLOCK", std::to_string(wait.count()),
      "STREAMS"};
  for (const auto& [id, seq] : after) args.push_back(EventsKey(id));
  for (const auto& [id, seq] : after) {
    args.push_back(std::to_string(seq) + "-0");
  }
  Result<RedisReply> reply = follow_connection_.Command(args);
  if (!reply.ok()) return reply.error();
  std::vector<v1::JobEvent> events;
  const redisReply* r = reply.value().get();
  if (r->type == REDIS_REPLY_NIL) return events;  // nothing new in time
  if (r->type != REDIS_REPLY_ARRAY) return BadReply("XREAD");
  const std::string events_prefix = kPrefix + "events:";
  for (std::size_t s = 0; s < r->elements; ++s) {
    const redisReply* stream = r->element[s];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) {
      return BadReply("XREAD");
    }
    const std::string id =
        Text(stream->element[0]).substr(events_prefix.size());
    const redisReply* entries = stream->element[1];
    for (std::size_t i = 0; i < entries->elements; ++i) {
      v1::JobEvent event;
      if (!ParseEventEntry(entries->element[i], id, &event)) {
        return BadReply("XREAD");
      }
      events.push_back(std::move(event));
    }
  }
  return events;
}

Result<std::optional<core::ClaimedJob>> RedisStore::ClaimEntry(
    const std::string& entry, const std::string& id) {
  Result<RedisReply> reply =
      Run({"EVAL", scripts::kClaim, "3", JobKey(id), LeaseKey(id), kQueue,
           replica_, std::to_string(options_.lease.count()), entry, kGroup});
  if (!reply.ok()) return reply.error();
  const redisReply* r = reply.value().get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
    return BadReply("claim");
  }
  if (r->element[0]->integer != 2) return std::optional<core::ClaimedJob>();
  if (r->elements != 7 || r->element[2]->type != REDIS_REPLY_STRING) {
    return BadReply("claim");
  }
  core::ClaimedJob claimed;
  claimed.claims = static_cast<std::uint64_t>(r->element[1]->integer);
  if (!claimed.stored.job.ParseFromArray(
          r->element[2]->str, static_cast<int>(r->element[2]->len))) {
    return BadReply("claim (job)");
  }
  claimed.stored.ordinal = Number(Text(r->element[3]));
  claimed.last_seq = Number(Text(r->element[4]));
  claimed.cancel_requested = Text(r->element[5]) == "1";
  if (!claimed.stored.job.mutable_spec()->ParseFromArray(
          r->element[6]->str, static_cast<int>(r->element[6]->len))) {
    return BadReply("claim (spec)");
  }
  return std::optional<core::ClaimedJob>(std::move(claimed));
}

Result<std::vector<core::ClaimedJob>> RedisStore::Claim(
    std::size_t max, std::chrono::milliseconds wait) {
  std::vector<core::ClaimedJob> claimed;
  if (max == 0) return claimed;
  // (entry id, job id) pairs to try.
  std::vector<std::pair<std::string, std::string>> entries;
  const auto collect = [&](const redisReply* list) {
    if (list == nullptr || list->type != REDIS_REPLY_ARRAY) return;
    for (std::size_t i = 0; i < list->elements; ++i) {
      const redisReply* entry = list->element[i];
      if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
          entry->element[1]->type != REDIS_REPLY_ARRAY ||
          entry->element[1]->elements < 2) {
        continue;  // deleted meanwhile
      }
      entries.emplace_back(Text(entry->element[0]),
                           Text(entry->element[1]->element[1]));
    }
  };
  const Clock::time_point now = Clock::now();
  if (now >= next_takeover_scan_) {
    next_takeover_scan_ = now + options_.lease / 2;
    // Entries delivered to a replica more than a lease ago: their job is
    // finished, still run by a live owner (its lease says so), or orphaned.
    Result<RedisReply> reply =
        claim_connection_.Command({"XAUTOCLAIM", kQueue, kGroup, replica_,
                                   std::to_string(options_.lease.count()),
                                   "0-0", "COUNT", std::to_string(max)});
    if (reply.ok()) {
      const redisReply* r = reply.value().get();
      if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        collect(r->element[1]);
      }
    } else if (reply.error().message.find("NOGROUP") == std::string::npos) {
      return reply.error();  // (NOGROUP: the read below recreates it)
    }
  }
  const bool taking_over = !entries.empty();
  std::vector<std::string> read = {"XREADGROUP", "GROUP", kGroup,
                                   replica_,     "COUNT", std::to_string(max)};
  if (!taking_over) {
    read.push_back("BLOCK");
    read.push_back(std::to_string(wait.count()));
  }
  read.insert(read.end(), {"STREAMS", kQueue, ">"});
  Result<RedisReply> reply = claim_connection_.Command(read);
  if (!reply.ok() &&
      reply.error().message.find("NOGROUP") != std::string::npos) {
    // Redis came back without its data (no persistence): the queue starts
    // over, with a new group.
    spdlog::warn("redis={} lost the queue's consumer group; creating it again",
                 address_.ToString());
    (void)claim_connection_.Command(
        {"XGROUP", "CREATE", kQueue, kGroup, "0", "MKSTREAM"});
    return claimed;
  }
  if (!reply.ok()) return reply.error();
  const redisReply* r = reply.value().get();
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
      r->element[0]->elements == 2) {
    collect(r->element[0]->element[1]);
  }
  for (const auto& [entry, id] : entries) {
    if (claimed.size() >= max) break;
    Result<std::optional<core::ClaimedJob>> one = ClaimEntry(entry, id);
    if (!one.ok()) return one.error();
    if (one.value().has_value()) claimed.push_back(std::move(*one.value()));
  }
  return claimed;
}

void RedisStore::Adopt(std::shared_ptr<core::JobRecord> job,
                       std::uint64_t claims) {
  auto owned = std::make_shared<Owned>();
  owned->claims = claims;
  owned->published_seq = job->events().last_seq();
  const std::string id = job->id();
  owned->job = std::move(job);
  std::lock_guard lock(owned_mu_);
  owned_[id] = std::move(owned);
}

std::shared_ptr<RedisStore::Owned> RedisStore::FindOwned(
    const std::string& id) {
  std::lock_guard lock(owned_mu_);
  auto it = owned_.find(id);
  return it == owned_.end() ? nullptr : it->second;
}

void RedisStore::Disown(const std::string& id) {
  std::lock_guard lock(owned_mu_);
  owned_.erase(id);
}

Result<bool> RedisStore::Publish(Owned& owned, const v1::Job* job,
                                 const v1::JobResult* result) {
  std::lock_guard lock(owned.mu);
  const bool final = job != nullptr && core::IsTerminal(job->state());
  // The spec was stored once with the job: only the view changes.
  std::string view;
  if (job != nullptr) {
    v1::Job without_spec = *job;
    without_spec.clear_spec();
    view = without_spec.SerializeAsString();
  }
  std::vector<v1::JobEvent> events = owned.job->events().ReadAfter(
      owned.published_seq, std::numeric_limits<std::size_t>::max());
  const std::string& id = owned.job->id();
  std::vector<std::string> args = {
      "EVAL",
      scripts::kPublish,
      "5",
      JobKey(id),
      LeaseKey(id),
      EventsKey(id),
      kQueue,
      kQueuedByTenant,
      replica_,
      view,
      job != nullptr ? std::to_string(static_cast<int>(job->state())) : "",
      result != nullptr ? result->SerializeAsString() : "",
      result != nullptr ? "1" : "0",
      final ? "1" : "0",
      kGroup,
      std::to_string(retention_ms_.load()),
      std::to_string(options_.max_events)};
  std::uint64_t newest = owned.published_seq;
  for (const v1::JobEvent& event : events) {
    // The terminal event goes out only with the terminal state, in the same
    // script, so a replica that lost its lease never publishes one.
    if (!final && event.type() == v1::STATE_CHANGED &&
        core::IsTerminal(event.state())) {
      break;
    }
    args.push_back(std::to_string(event.seq()));
    args.push_back(event.SerializeAsString());
    newest = event.seq();
  }
  if (job == nullptr && newest == owned.published_seq) return true;
  Result<RedisReply> reply = Run(args);
  if (!reply.ok()) return reply.error();
  if (reply.value()->integer != 1) return false;
  owned.published_seq = newest;
  return true;
}

Status RedisStore::Update(const v1::Job& job, const v1::JobResult* result) {
  std::shared_ptr<Owned> owned = FindOwned(job.id());
  if (owned == nullptr) return {};  // not ours (any more): nothing to write
  Result<bool> published = Publish(*owned, &job, result);
  if (!published.ok()) {
    // Redis is down. The next heartbeats publish the state again; a
    // terminal one is kept for them.
    if (core::IsTerminal(job.state())) {
      std::lock_guard lock(owned->mu);
      owned->final_job = std::make_unique<v1::Job>(job);
      if (result != nullptr) {
        owned->final_result = std::make_unique<v1::JobResult>(*result);
      }
    }
    return published.error();
  }
  if (!published.value()) {
    spdlog::warn(
        "job={} state={} not stored: this replica ({}) no longer holds the "
        "job's lease (another replica took it over, or it already ended)",
        job.id(), v1::JobState_Name(job.state()), replica_);
    Disown(job.id());
    return {};
  }
  if (core::IsTerminal(job.state())) Disown(job.id());
  return {};
}

void RedisStore::Heartbeat() {
  if (!health_.up()) {
    // Reconnects (with backoff) so readiness comes back without traffic.
    if (!Run({"PING"}).ok()) return;
  }
  std::vector<std::shared_ptr<Owned>> owned;
  {
    std::lock_guard lock(owned_mu_);
    owned.reserve(owned_.size());
    for (auto& [id, o] : owned_) owned.push_back(o);
  }
  for (const std::shared_ptr<Owned>& o : owned) {
    core::JobRecord& job = *o->job;
    // Renewed first: a lease that expired while Redis was down is taken
    // again (when nobody else claimed the job) before anything is written.
    Result<RedisReply> renewed =
        Run({"EVAL", scripts::kRenew, "2", JobKey(job.id()), LeaseKey(job.id()),
             replica_, std::to_string(options_.lease.count()),
             std::to_string(o->claims)});
    if (!renewed.ok()) return;  // down: logged once by the connection
    const long long answer = renewed.value()->integer;
    if (answer < 0) {
      spdlog::warn(
          "job={} lease lost by replica {} (another replica runs it now); "
          "stopping it here without a result",
          job.id(), replica_);
      job.cancel_flag().store(true);
      Disown(job.id());
      continue;
    }
    if (answer == 1 && !job.cancel_requested().load()) {
      job.cancel_requested().store(true);
      job.cancel_flag().store(true);
    }
    std::unique_ptr<v1::Job> final_job;
    std::unique_ptr<v1::JobResult> final_result;
    {
      std::lock_guard lock(o->mu);
      final_job = std::move(o->final_job);
      final_result = std::move(o->final_result);
    }
    if (final_job != nullptr) {
      // A terminal state Redis missed while it was down (a failed Update
      // keeps it for the next heartbeat again).
      if (!Update(*final_job, final_result.get()).ok()) return;
      continue;
    }
    if (core::IsTerminal(job.state())) continue;  // Update publishes it
    v1::Job view = job.ToProto(false);
    Result<bool> published = Publish(*o, &view, nullptr);
    if (!published.ok()) return;
  }
}

void RedisStore::ReleaseAll() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(owned_mu_);
    for (auto& [id, o] : owned_) {
      // Stops here without a terminal state (not a client's cancel).
      o->job->cancel_flag().store(true);
      ids.push_back(id);
    }
    owned_.clear();
  }
  for (const std::string& id : ids) {
    (void)Run({"EVAL", scripts::kRelease, "1", LeaseKey(id), replica_});
  }
  if (!ids.empty()) {
    spdlog::info(
        "released the leases of {} unfinished job(s) to other "
        "replicas",
        ids.size());
  }
}

Status RedisStore::RequestCancel(const std::string& id) {
  Result<std::optional<core::StoredJob>> loaded = Load(id);
  if (!loaded.ok()) return loaded.error();
  if (!loaded.value().has_value()) {
    return Error{ErrorCode::kNotFound, "no job with id '" + id + "'", "id"};
  }
  const v1::Job& stored = loaded.value()->job;
  if (core::IsTerminal(stored.state())) return {};
  const std::uint64_t last_seq = stored.last_seq();
  v1::Job cancelled = stored;
  cancelled.clear_last_seq();
  cancelled.clear_spec();
  cancelled.set_state(v1::CANCELLED);
  *cancelled.mutable_end_time() = core::NowTimestamp();
  cancelled.mutable_error()->set_code("CANCELLED");
  cancelled.mutable_error()->set_message("cancelled while queued");
  v1::JobEvent event;
  event.set_seq(last_seq + 1);
  *event.mutable_time() = core::NowTimestamp();
  event.set_job_id(id);
  event.set_type(v1::STATE_CHANGED);
  event.set_state(v1::CANCELLED);
  *event.mutable_error() = cancelled.error();
  Result<RedisReply> reply =
      Run({"EVAL", scripts::kCancel, "5", JobKey(id), LeaseKey(id),
           EventsKey(id), kQueue, kQueuedByTenant, std::to_string(last_seq),
           cancelled.SerializeAsString(), event.SerializeAsString(),
           std::to_string(last_seq + 1), kGroup,
           std::to_string(retention_ms_.load()),
           std::to_string(options_.max_events)});
  if (!reply.ok()) return reply.error();
  if (reply.value()->integer == 1) {
    // Running (or held) somewhere; when here, stop it now rather than at the
    // next heartbeat.
    if (std::shared_ptr<Owned> owned = FindOwned(id)) {
      owned->job->cancel_requested().store(true);
      owned->job->cancel_flag().store(true);
    }
  }
  return {};
}

Result<std::vector<std::pair<std::uint64_t, std::string>>> RedisStore::ListIds(
    const std::string& tenant, std::uint64_t before, std::size_t max) {
  Result<RedisReply> reply =
      Run({"ZREVRANGEBYSCORE", IndexKey(tenant),
           before == std::numeric_limits<std::uint64_t>::max()
               ? "+inf"
               : "(" + std::to_string(before),
           "-inf", "WITHSCORES", "LIMIT", "0", std::to_string(max)});
  if (!reply.ok()) return reply.error();
  const redisReply* r = reply.value().get();
  if (r->type != REDIS_REPLY_ARRAY) return BadReply("ZREVRANGEBYSCORE");
  std::vector<std::pair<std::uint64_t, std::string>> ids;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    ids.emplace_back(Number(Text(r->element[i + 1])), Text(r->element[i]));
  }
  return ids;
}

Status RedisStore::Delete(const std::string& id) {
  Result<std::optional<core::StoredJob>> loaded = Load(id);
  if (!loaded.ok()) return loaded.error();
  if (!loaded.value().has_value()) return {};
  Result<RedisReply> reply =
      Run({"EVAL", scripts::kDelete, "3", JobKey(id), EventsKey(id),
           IndexKey(loaded.value()->job.tenant()), id});
  if (!reply.ok()) return reply.error();
  if (reply.value()->integer < 3) {
    return Error{ErrorCode::kFailedPrecondition,
                 "job " + id + " is not finished; cancel it first", "id"};
  }
  return {};
}

Status RedisStore::DeleteMany(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    if (Status status = Delete(id); !status.ok()) return status;
  }
  return {};
}

Result<std::vector<core::StoredJob>> RedisStore::LoadAll() {
  return std::vector<core::StoredJob>();
}

}  // namespace impulse::cluster
