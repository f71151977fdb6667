// The Lua scripts of the Redis job store. Each runs atomically in Redis, so a
// check (who holds the lease, is the job finished) and the write it guards
// cannot be separated by another replica's call. States are the numbers of
// impulse.v1.JobState: 1 QUEUED, 2 RUNNING, >= 3 terminal.
#pragma once

namespace impulse::cluster::scripts {

// Queued jobs per tenant: the hash `queued` (KEYS named so below) counts,
// for each tenant, its jobs in state QUEUED (claimed by a replica or not).
// Every script that changes a job's state keeps it in step, in the same
// atomic call, so the count cannot drift from the jobs' states.

// KEYS: job hash, events stream, queue stream, tenant's job index (zset),
// idempotency key, queued. ARGV: id, job bytes (without spec), tenant,
// ordinal, first event bytes, has idempotency key (1/0), events kept per
// job, spec bytes (written once; updates leave it alone), most unfinished
// jobs (0 = no limit), most queued jobs of the tenant (0 = no limit).
// Returns the id of the job that has the idempotency key (this one if new),
// '' when the cluster queue is full, or '#<count>' when the tenant already
// has <count> queued jobs.
inline constexpr const char* kInsert = R"lua(
if ARGV[6] == '1' then
  local existing = redis.call('GET', KEYS[5])
  if existing then return existing end
end
-- Queue entries live until their job ends: XLEN counts unfinished jobs.
if tonumber(ARGV[9]) > 0 and redis.call('XLEN', KEYS[3]) >= tonumber(ARGV[9]) then
  return ''
end
local queued = tonumber(redis.call('HGET', KEYS[6], ARGV[3]) or '0')
if tonumber(ARGV[10]) > 0 and queued >= tonumber(ARGV[10]) then
  return '#' .. queued
end
redis.call('HINCRBY', KEYS[6], ARGV[3], 1)
if ARGV[6] == '1' then redis.call('SET', KEYS[5], ARGV[1]) end
local entry = redis.call('XADD', KEYS[3], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[1], 'job', ARGV[2], 'tenant', ARGV[3],
           'ordinal', ARGV[4], 'state', '1', 'claims', '0', 'entry', entry,
           'last_seq', '1', 'cancel', '0', 'spec', ARGV[8])
if ARGV[6] == '1' then redis.call('HSET', KEYS[1], 'idem', KEYS[5]) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '1-0', 'e', ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
return ARGV[1]
)lua";

// Takes a queue entry. KEYS: job hash, lease, queue. ARGV: replica, lease
// ms, entry id, group. Returns {0} finished or gone (entry acknowledged),
// {1} another replica's lease holds it, or {2, claims, job bytes, ordinal,
// last_seq, cancel, spec bytes} when this replica now holds the lease.
inline constexpr const char* kClaim = R"lua(
local state = tonumber(redis.call('HGET', KEYS[1], 'state') or '0')
if state == 0 or state >= 3 then
  redis.call('XACK', KEYS[3], ARGV[4], ARGV[3])
  redis.call('XDEL', KEYS[3], ARGV[3])
  return {0}
end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1}
end
local claims = redis.call('HINCRBY', KEYS[1], 'claims', 1)
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'entry', ARGV[3])
local h = redis.call('HMGET', KEYS[1], 'job', 'ordinal', 'last_seq', 'cancel',
                    'spec')
return {2, claims, h[1], h[2], h[3], h[4], h[5]}
)lua";

// The lease holder publishes events and state. KEYS: job hash, lease,
// events stream, queue, queued. ARGV: replica, job bytes without spec ('' =
// keep), state, result bytes, has result (1/0), terminal (1/0), group,
// retention ms, events kept, then (seq, event bytes) pairs, oldest first.
// Returns 1 when written, 0 when this replica no longer holds the lease or the
// job already ended.
inline constexpr const char* kPublish = R"lua(
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local state = tonumber(redis.call('HGET', KEYS[1], 'state') or '0')
if state == 0 or state >= 3 then return 0 end
local last = redis.call('HGET', KEYS[1], 'last_seq') or '0'
for i = 10, #ARGV, 2 do
  if tonumber(ARGV[i]) > tonumber(last) then
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], ARGV[i] .. '-0',
               'e', ARGV[i + 1])
    last = ARGV[i]
  end
end
redis.call('HSET', KEYS[1], 'last_seq', last)
if ARGV[2] ~= '' then
  local now = tonumber(ARGV[3])
  if (state == 1) ~= (now == 1) then
    local tenant = redis.call('HGET', KEYS[1], 'tenant')
    local left = redis.call('HINCRBY', KEYS[5], tenant, now == 1 and 1 or -1)
    if left <= 0 then redis.call('HDEL', KEYS[5], tenant) end
  end
  redis.call('HSET', KEYS[1], 'job', ARGV[2], 'state', ARGV[3])
end
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'result', ARGV[4]) end
if ARGV[6] == '1' then
  redis.call('DEL', KEYS[2])
  local entry = redis.call('HGET', KEYS[1], 'entry')
  if entry then
    redis.call('XACK', KEYS[4], ARGV[7], entry)
    redis.call('XDEL', KEYS[4], entry)
  end
  if tonumber(ARGV[8]) > 0 then
    local idem = redis.call('HGET', KEYS[1], 'idem')
    if idem then redis.call('PEXPIRE', idem, ARGV[8]) end
    redis.call('PEXPIRE', KEYS[1], ARGV[8])
    redis.call('PEXPIRE', KEYS[3], ARGV[8])
  end
end
return 1
)lua";

// Renews a lease. KEYS: job hash, lease. ARGV: replica, lease ms, claims
// when this replica took it. An expired lease (e.g. Redis was down longer
// than it) is taken again when no other replica claimed the job meanwhile.
// Returns -1 lost, 0 held, 1 held and a cancel was requested.
inline constexpr const char* kRenew = R"lua(
local owner = redis.call('GET', KEYS[2])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
elseif not owner and redis.call('HGET', KEYS[1], 'claims') == ARGV[3] and
       tonumber(redis.call('HGET', KEYS[1], 'state') or '9') < 3 then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
else
  return -1
end
return tonumber(redis.call('HGET', KEYS[1], 'cancel') or '0')
)lua";

// Gives a lease up. KEYS: lease. ARGV: replica.
inline constexpr const char* kRelease = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
)lua";

// Cancels a job. KEYS: job hash, lease, events stream, queue, queued. ARGV:
// last_seq the caller read, cancelled job bytes (without spec), terminal
// event bytes, its
// seq, group, retention ms, events kept. A queued job nobody holds (and
// unchanged since the caller read it) ends CANCELLED here (returns 2);
// otherwise the cancel flag tells its owner (returns 1). 0: already ended;
// -1: no such job.
inline constexpr const char* kCancel = R"lua(
local state = tonumber(redis.call('HGET', KEYS[1], 'state') or '0')
if state == 0 then return -1 end
if state >= 3 then return 0 end
redis.call('HSET', KEYS[1], 'cancel', '1')
if state ~= 1 or redis.call('EXISTS', KEYS[2]) == 1 or
   redis.call('HGET', KEYS[1], 'last_seq') ~= ARGV[1] then
  return 1
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], ARGV[4] .. '-0',
           'e', ARGV[3])
redis.call('HSET', KEYS[1], 'job', ARGV[2], 'state', '5', 'last_seq', ARGV[4])
local tenant = redis.call('HGET', KEYS[1], 'tenant')
if redis.call('HINCRBY', KEYS[5], tenant, -1) <= 0 then
  redis.call('HDEL', KEYS[5], tenant)
end
local entry = redis.call('HGET', KEYS[1], 'entry')
if entry then
  redis.call('XACK', KEYS[4], ARGV[5], entry)
  redis.call('XDEL', KEYS[4], entry)
end
if tonumber(ARGV[6]) > 0 then
  local idem = redis.call('HGET', KEYS[1], 'idem')
  if idem then redis.call('PEXPIRE', idem, ARGV[6]) end
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
end
return 2
)lua";

// Deletes a finished job. KEYS: job hash, events stream, tenant's job
// index. ARGV: id. Returns the state it had (< 3: not deleted; 0: none).
inline constexpr const char* kDelete = R"lua(
local state = tonumber(redis.call('HGET', KEYS[1], 'state') or '0')
if state < 3 then return state end
local idem = redis.call('HGET', KEYS[1], 'idem')
if idem then redis.call('DEL', idem) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return state
)lua";

}  // namespace impulse::cluster::scripts
