#!/usr/bin/env bash
# End-to-end test of the impulse CLI: starts impulsed on a free port, runs
# jobs through the CLI and checks outputs and exit statuses.
# Usage: cli_test.sh IMPULSED IMPULSE
set -uo pipefail
source "$(dirname "$0")/../shell/impulsed_ports.sh"

impulsed="$1"
impulse="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
log="$tmp/impulsed.log"
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

"$impulsed" --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 --data_dir="$tmp/data" \
  --drain_timeout_ms=500 >"$log" 2>&1 &
server_pid=$!
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
}
trap stop_server EXIT

wait_for_ports "$server_pid" "$log"
export IMPULSE_SERVER="127.0.0.1:$port"
echo "impulsed on $IMPULSE_SERVER"

# Runs the CLI; leaves stdout in $out, stderr in $err and the status in $rc.
cli() {
  out=$("$impulse" "$@" 2>"$tmp/stderr")
  rc=$?
  err=$(cat "$tmp/stderr")
}

expect_rc() {  # expect_rc WANT WHAT
  if [[ "$rc" != "$1" ]]; then
    fail "$2: exit status $rc, want $1; stdout: $out; stderr: $err"
  fi
}

near() {  # near VALUE WANT TOLERANCE
  awk -v v="$1" -v w="$2" -v t="$3" \
    'BEGIN { d = v - w; if (d < 0) d = -d; exit !(v != "" && d <= t) }'
}

# --- run pi with JSON output: SUCCEEDED and an estimate near pi.
cli run pi --samples 1e6 --seed 7 --json
expect_rc 0 "run pi --json"
grep -q '"state": "SUCCEEDED"' <<<"$out" || fail "run pi --json: no SUCCEEDED in $out"
estimate=$(sed -n 's/.*"estimate": \([0-9.eE+-]*\).*/\1/p' <<<"$out" | head -n 1)
near "$estimate" 3.14159 0.01 || fail "run pi --json: estimate '$estimate' not near pi"
grep -q '"samples": "1000000"' <<<"$out" || fail "run pi --json: samples not 1000000"

# --- the same job in human form; progress goes to stderr, not stdout.
cli run pi --samples 1e6 --seed 7
expect_rc 0 "run pi"
grep -q 'SUCCEEDED' <<<"$out" || fail "run pi: no SUCCEEDED in $out"
grep -q 'pi ~ 3.14' <<<"$out" || fail "run pi: no estimate in $out"
grep -q 'QUEUED' <<<"$err" || fail "run pi: no progress lines on stderr: $err"

# --- the book's three particles, evolve(0.1).
cli run particles --particle 0.3,0.5,1 --particle 0.0,-0.5,-1 \
  --particle -0.1,-0.4,3 --t_end 0.1 --device CPU
expect_rc 0 "run particles"
want=("0.210269 0.543863" "-0.099334 -0.490034" "0.191358 -0.365227")
for i in 0 1 2; do
  line=$(grep -F "[$i] x=" <<<"$out")
  x=$(sed -n 's/.*x=\([^ ]*\).*/\1/p' <<<"$line")
  y=$(sed -n 's/.*y=\([^ ]*\).*/\1/p' <<<"$line")
  read -r wx wy <<<"${want[$i]}"
  near "$x" "$wx" 2e-5 && near "$y" "$wy" 2e-5 ||
    fail "run particles: particle $i at ($x, $y), want ($wx, $wy)"
done

# --- bad input: the server names the field (INVALID_ARGUMENT, status 3).
cli run pi --samples 0
expect_rc 3 "run pi --samples 0"
grep -q 'INVALID_ARGUMENT' <<<"$err" && grep -q 'samples' <<<"$err" ||
  fail "run pi --samples 0: want INVALID_ARGUMENT naming samples, got: $err"

# --- bad flags and spec files are usage errors (status 2) naming the flag.
cli run pi --samples 1.5
expect_rc 2 "run pi --samples 1.5"
grep -q -- '--samples' <<<"$err" || fail "--samples 1.5: flag not named: $err"
cli run pi --samples 1e6 --device TPU
expect_rc 2 "--device TPU"
echo '{"pi": {"samples": "many"}}' >"$tmp/bad.json"
cli run --spec "$tmp/bad.json"
expect_rc 2 "--spec bad.json"
grep -q 'pi.samples' <<<"$err" || fail "--spec bad.json: field not named: $err"
cli run --spec "$tmp/missing.json"
expect_rc 2 "--spec missing.json"

# --- a spec file with a flag overriding it.
echo '{"pi": {"samples": "1000000", "seed": "7"}, "device": "CPU"}' \
  >"$tmp/spec.json"
cli run --spec "$tmp/spec.json" --samples 2e6 --json --quiet
expect_rc 0 "run --spec"
grep -q '"samples": "2000000"' <<<"$out" || fail "run --spec: override lost: $out"

# --- submit, get, cancel, watch, list.
cli submit pi --samples 1e13 --seed 1 --label suite=cli
expect_rc 0 "submit"
id="$out"
[[ "$id" =~ ^[A-Za-z0-9_-]+$ ]] || fail "submit: not a job id: '$id'"
cli get "$id"
expect_rc 0 "get"
grep -q "$id" <<<"$out" || fail "get: id missing: $out"
cli cancel "$id"
expect_rc 0 "cancel"
cli watch "$id"
expect_rc 1 "watch of a cancelled job"
tail -n 1 <<<"$out" | grep -q 'CANCELLED' || fail "watch: last line not CANCELLED: $out"
cli list --label suite=cli --json
expect_rc 0 "list"
grep -q "\"$id\"" <<<"$out" || fail "list --label: $id missing: $out"
cli get no-such-job
expect_rc 3 "get no-such-job"
grep -q 'NOT_FOUND' <<<"$err" || fail "get no-such-job: $err"

# --- rm: a running job is refused (cancel it first), a finished one goes.
cli submit particles --random_particles 100000 --t_end 100 --device CPU
expect_rc 0 "submit a long job"
long_id="$out"
cli rm "$long_id"
expect_rc 3 "rm of an unfinished job"
grep -q 'FAILED_PRECONDITION' <<<"$err" || fail "rm of an unfinished job: $err"
cli cancel "$long_id"
cli watch "$long_id"
cli rm "$id" "$long_id"
expect_rc 0 "rm"
grep -q "job $id deleted (it was CANCELLED)" <<<"$out" || fail "rm: $out"
grep -q "job $long_id deleted" <<<"$out" || fail "rm: second id: $out"
cli get "$id"
expect_rc 3 "get of a deleted job"
grep -q 'NOT_FOUND' <<<"$err" || fail "get of a deleted job: $err"

# --- a job past its --job_timeout fails with DEADLINE_EXCEEDED (status 1).
cli run particles --random_particles 100000 --t_end 100 --device CPU --job_timeout 300ms --json
expect_rc 1 "run --job_timeout"
grep -q '"code": "DEADLINE_EXCEEDED"' <<<"$out" || fail "run --job_timeout: $out"
cli submit pi --samples 1000 --job_timeout soon
expect_rc 2 "--job_timeout soon"
grep -q -- '--job_timeout' <<<"$err" || fail "--job_timeout soon: $err"

# --- no server: status 3 with the gRPC code.
IMPULSE_SERVER=127.0.0.1:1 cli --timeout 5 get "$id"
expect_rc 3 "unreachable server"
grep -q 'UNAVAILABLE' <<<"$err" || fail "unreachable server: $err"

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "PASS"
