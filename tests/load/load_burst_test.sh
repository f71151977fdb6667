#!/usr/bin/env bash
# A small, cheap run of //bench:load --mode=burst (issue #6's scenario) as a
# pass/fail test: 500 Watch streams held open on 10 anchor jobs while 2,000
# tiny jobs are submitted. Checks only what cannot be flaky: every accepted
# job is listed exactly once in a terminal state, every stream ended with
# exactly one terminal event, no submit failed. No timing or memory asserts
# (bench/load_burst.sh measures those at full size).
# Usage: load_burst_test.sh IMPULSED LOAD
set -uo pipefail
source "$(dirname "$0")/../shell/impulsed_ports.sh"

impulsed="$1"
load="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
log="$tmp/impulsed.log"

"$impulsed" --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --data_dir="$tmp/data" --drain_timeout_ms=500 >"$log" 2>&1 &
server_pid=$!
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
}
trap stop_server EXIT

wait_for_ports "$server_pid" "$log"

out="$tmp/burst.json"
"$load" --json --mode=burst --target="127.0.0.1:$port" \
  --server_pid="$server_pid" --watchers=500 --watch_jobs=10 \
  --watch_samples=10000000 --burst_jobs=2000 --clients=8 --channels=2 \
  --finish_timeout=120 >"$out" 2>"$tmp/burst.err"
rc=$?
cat "$out"
python3 - "$out" "$rc" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rc = int(sys.argv[2])
checks = [
    (rc == 0, f"exit status {rc}"),
    (r["passed"], f"problems: {r['problems']}"),
    (r["submitted"] == 2000, f"submitted {r['submitted']} of 2000"),
    (r["submit_errors"] == {}, f"submit errors {r['submit_errors']}"),
    (r["jobs"]["expected"] == 2000 + 10 + 2, f"expected {r['jobs']['expected']}"),
    (r["jobs"]["missing"] == 0, f"missing {r['jobs']['missing']}"),
    (r["jobs"]["duplicates"] == 0, f"duplicates {r['jobs']['duplicates']}"),
    (r["jobs"]["non_terminal"] == 0, f"unfinished {r['jobs']['non_terminal']}"),
    (r["jobs"]["by_state"].get("SUCCEEDED", 0) >= 2010,
     f"states {r['jobs']['by_state']}"),
    (r["watch"]["terminated"] == 500, f"watchers {r['watch']}"),
]
failed = [why for ok, why in checks if not ok]
for why in failed:
    print("FAIL:", why, file=sys.stderr)
sys.exit(1 if failed else 0)
PY
status=$?
if [[ $status -ne 0 ]]; then
  cat "$tmp/burst.err" >&2
  exit 1
fi
echo "PASS"
