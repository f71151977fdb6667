#!/usr/bin/env bash
# Issue #6's load test: 5,000 concurrent Watch streams plus a burst of 20,000
# small jobs against a fresh impulsed on loopback; reports jobs/s, submit
# latency p50/p99, the server's RSS (baseline, peak, after the release) and
# checks that no job was lost and every stream ended with its terminal event.
# Bounded: the load generator gives up after --finish_timeout and
# --release_wait, and the whole script is killed after 170 s.
#
# Usage: bench/load_burst.sh [--json] [extra impulse_load flags...]
#   IMPULSED=path LOAD=path  binaries (default: bazel-bin/, built if missing)
#   RETENTION=45s            how long finished jobs are kept (must exceed the
#                            burst plus the List check, or jobs would be
#                            removed before they are counted)
#
# Retention is by age, not --retention_max_jobs: a count limit would remove
# finished jobs during the burst, before the check that every job ended, and
# a removed job cannot be told from a lost one.
set -euo pipefail
cd "$(dirname "$0")/.."

impulsed="${IMPULSED:-bazel-bin/server/impulsed}"
load="${LOAD:-bazel-bin/bench/load/load}"
retention="${RETENTION:-45s}"
if [[ ! -x "$impulsed" || ! -x "$load" ]]; then
  bazel build //server:impulsed //bench/load:load
fi

# 5,000 streams ride on 8 HTTP/2 connections: a handful of descriptors on
# each side, not one per stream.
echo "fd limit $(ulimit -n), threads-max $(cat /proc/sys/kernel/threads-max);" \
  "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

tmp="$(mktemp -d)"
log="$tmp/impulsed.log"
"$impulsed" --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --data_dir="$tmp/data" --journal=true --max_queued=50000 \
  --retention="$retention" --drain_timeout_ms=1000 >"$log" 2>&1 &
server_pid=$!
cleanup() {
  kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*impulsed serving .* port=\([0-9][0-9]*\).*/\1/p' "$log" |
    head -n 1)
  [[ -n "$port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { cat "$log" >&2; echo "impulsed did not start" >&2; exit 1; }
sleep 1  # let the fresh server settle before the baseline

rc=0
timeout 170 "$load" --mode=burst --target="127.0.0.1:$port" \
  --server_pid="$server_pid" --watchers=5000 --watch_jobs=50 \
  --burst_jobs=20000 --clients=32 --channels=8 --threads=2 \
  --release_wait=90 --settle=7 "$@" || rc=$?
echo "impulsed log: $(grep -c 'state=SUCCEEDED' "$log") SUCCEEDED lines," \
  "$(grep -c 'retention removed' "$log") retention sweeps; heap trims:"
grep 'heap trimmed' "$log" | sed 's/^[^ ]* [^ ]* /  /' || echo "  none"
exit "$rc"
