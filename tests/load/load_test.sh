#!/usr/bin/env bash
# End-to-end test of the load generator: starts impulsed on free ports, runs
# //bench:load against it for about a second in each mode (and over REST),
# and checks the JSON: jobs done, no errors, latencies and server figures.
# Usage: load_test.sh IMPULSED LOAD
set -uo pipefail
source "$(dirname "$0")/../shell/impulsed_ports.sh"

impulsed="$1"
load="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
log="$tmp/impulsed.log"
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

"$impulsed" --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --data_dir="$tmp/data" --drain_timeout_ms=500 >"$log" 2>&1 &
server_pid=$!
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
}
trap stop_server EXIT

wait_for_ports "$server_pid" "$log" http

# json_get FILE EXPRESSION: a value from the JSON report (python3's json).
json_get() {
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(eval(sys.argv[2], {}, {"r": r}))' "$1" "$2"
}

# check NAME ARGS...: runs the load generator and checks its JSON report.
check() {
  local name="$1"
  shift
  local out="$tmp/$name.json"
  "$load" --json "$@" >"$out" 2>"$tmp/$name.err"
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    fail "$name: exit status $rc: $(cat "$tmp/$name.err") $(cat "$out")"
    return
  fi
  local ok errors p50 pid
  ok=$(json_get "$out" 'r["ok"]')
  errors=$(json_get "$out" 'r["errors"]')
  p50=$(json_get "$out" 'r["end_to_end_latency"]["p50_ms"]')
  pid=$(json_get "$out" 'r["server"]["pid"] if r["server"] else 0')
  echo "$name: ok=$ok errors=$errors p50_ms=$p50 server_pid=$pid"
  [[ "$ok" -gt 0 ]] || fail "$name: no jobs done: $(cat "$out")"
  [[ "$errors" == 0 ]] || fail "$name: errors: $(cat "$out")"
  awk -v p="$p50" 'BEGIN { exit !(p > 0) }' || fail "$name: p50 $p50"
  [[ "$pid" == "$server_pid" ]] ||
    fail "$name: server pid $pid, want $server_pid (found by port)"
}

grpc=(--target="127.0.0.1:$port")
check run "${grpc[@]}" --clients=4 --duration=1
check execute "${grpc[@]}" --mode=execute --clients=4 --duration=1
check submit_watch "${grpc[@]}" --mode=submit_watch --clients=4 --duration=1
check submit "${grpc[@]}" --mode=submit --clients=2 --duration=0.5
check watch "${grpc[@]}" --mode=watch --clients=50 --duration=1 \
  --workload=medium
check book "${grpc[@]}" --workload=book --clients=1 --jobs=3
check spec "${grpc[@]}" --spec='{"pi": {"samples": "5000"}}' --jobs=20 \
  --clients=2 --threads=2
check rest --protocol=rest --http_target="127.0.0.1:$http_port" \
  --clients=2 --duration=1

# Count-bound: exactly --jobs jobs.
jobs=$(json_get "$tmp/spec.json" 'r["ok"]')
[[ "$jobs" == 20 ]] || fail "--jobs=20 ran $jobs jobs"

# Refusals: a non-loopback target and out-of-range bounds (status 2).
"$load" --target=192.0.2.1:50051 --duration=1 >/dev/null 2>"$tmp/refuse.err"
[[ $? == 2 ]] || fail "non-loopback target not refused"
grep -q loopback "$tmp/refuse.err" || fail "refusal does not say why"
"$load" --target="127.0.0.1:$port" --duration=1000 >/dev/null 2>&1
[[ $? == 2 ]] || fail "--duration=1000 not refused"
# Through a file: with pipefail, grep -q quitting early can SIGPIPE the writer.
"$load" --help >"$tmp/help.txt" || fail "--help exits non-zero"
grep -q -- '--clients' "$tmp/help.txt" || fail "--help lists no --clients"

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "PASS"
