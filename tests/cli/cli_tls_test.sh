#!/usr/bin/env bash
# The impulse CLI against impulsed serving mutual TLS: certificates made at
# test time (make_test_certs.sh, in the test's temporary directory), the
# client certificate flags and environment variables, refusals, and
# impulsed's start-up errors for bad TLS flags.
# Usage: cli_tls_test.sh IMPULSED IMPULSE MAKE_TEST_CERTS
set -uo pipefail
source "$(dirname "$0")/../shell/impulsed_ports.sh"

impulsed="$1"
impulse="$2"
make_certs="$3"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
certs="$tmp/certs"
log="$tmp/impulsed.log"
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

"$make_certs" "$certs" || { echo "FAIL: cannot make certificates" >&2; exit 1; }

# --- start-up errors name the flag and exit 2 at once.
startup_error() {  # startup_error WANT_IN_LOG FLAGS...
  local want="$1"
  shift
  timeout 20 "$impulsed" --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
    --data_dir="$tmp/bad-data" "$@" >"$tmp/bad.log" 2>&1
  local rc=$?
  [[ "$rc" == 2 ]] || fail "impulsed $*: exit status $rc, want 2: $(cat "$tmp/bad.log")"
  grep -q -- "$want" "$tmp/bad.log" ||
    fail "impulsed $*: log does not say '$want': $(cat "$tmp/bad.log")"
}
startup_error "tls_key" --tls_cert="$certs/server.pem"
startup_error "tls_cert" --tls_key="$certs/server.key"
startup_error "tls_cert: cannot read --tls_cert=$certs/nope.pem" \
  --tls_cert="$certs/nope.pem" --tls_key="$certs/server.key"
startup_error "does not belong" --tls_cert="$certs/server.pem" --tls_key="$certs/client.key"
startup_error "tls_client_ca" --tls_client_ca="$certs/ca.pem"
"$impulsed" --help >"$tmp/help.txt" 2>&1
grep -q -- "--tls_client_ca" "$tmp/help.txt" || fail "impulsed --help: no --tls_client_ca"

"$impulsed" --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 --data_dir="$tmp/data" \
  --tls_cert="$certs/server.pem" --tls_key="$certs/server.key" \
  --tls_client_ca="$certs/ca.pem" --drain_timeout_ms=500 >"$log" 2>&1 &
server_pid=$!
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
}
trap stop_server EXIT

wait_for_ports "$server_pid" "$log"
export IMPULSE_SERVER="127.0.0.1:$port"
echo "impulsed (mTLS) on $IMPULSE_SERVER"

# The log says which mode each listener runs in, and never shows key material.
grep -q 'impulsed serving .* tls=mtls' "$log" || fail "no gRPC tls=mtls in the log"
grep -q 'http gateway serving .* tls=mtls' "$log" || fail "no HTTP tls=mtls in the log"
grep -q 'PRIVATE KEY' "$log" && fail "the log shows key material"
key_line=$(sed -n 2p "$certs/server.key")
grep -qF -- "$key_line" "$log" && fail "the log shows the key"

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

# --- with the CA and a client certificate signed by it: works.
cli --tls_ca "$certs/ca.pem" --tls_cert "$certs/client.pem" --tls_key "$certs/client.key" \
  run pi --samples 1e6 --seed 7 --json --quiet
expect_rc 0 "run pi over mTLS"
grep -q '"state": "SUCCEEDED"' <<<"$out" || fail "run pi over mTLS: no SUCCEEDED in $out"

# --- the same through the environment.
IMPULSE_TLS_CA="$certs/ca.pem" IMPULSE_TLS_CERT="$certs/client.pem" \
  IMPULSE_TLS_KEY="$certs/client.key" cli submit pi --samples 1e6 --label suite=tls
expect_rc 0 "submit over mTLS (environment)"
id="$out"
IMPULSE_TLS_CA="$certs/ca.pem" IMPULSE_TLS_CERT="$certs/client.pem" \
  IMPULSE_TLS_KEY="$certs/client.key" cli watch "$id"
expect_rc 0 "watch over mTLS (environment)"
printf 'the cat sat\nthe dog ran\n' >"$tmp/pets.txt"
IMPULSE_TLS_CA="$certs/ca.pem" IMPULSE_TLS_CERT="$certs/client.pem" \
  IMPULSE_TLS_KEY="$certs/client.key" cli dataset upload "$tmp/pets.txt" --format text
expect_rc 0 "dataset upload over mTLS"

# --- refused: no client certificate, another CA's, plaintext, wrong CA.
cli --timeout 10 --tls_ca "$certs/ca.pem" list
expect_rc 3 "list without a client certificate"
grep -q 'UNAVAILABLE' <<<"$err" || fail "no client certificate: $err"
cli --timeout 10 --tls_ca "$certs/ca.pem" --tls_cert "$certs/other_client.pem" \
  --tls_key "$certs/other_client.key" list
expect_rc 3 "list with another CA's client certificate"
cli --timeout 10 list
expect_rc 3 "plaintext list"
cli --timeout 10 --tls_ca "$certs/other_ca.pem" --tls_cert "$certs/client.pem" \
  --tls_key "$certs/client.key" list
expect_rc 3 "list trusting another CA"
# The server keeps serving after all that.
cli --tls_ca "$certs/ca.pem" --tls_cert "$certs/client.pem" --tls_key "$certs/client.key" \
  list --label suite=tls --json
expect_rc 0 "list over mTLS after refusals"
grep -q "\"$id\"" <<<"$out" || fail "list over mTLS: $id missing: $out"

# --- CLI usage errors name the flag (status 2).
cli --tls_cert "$certs/client.pem" list
expect_rc 2 "--tls_cert without --tls_key"
grep -q -- '--tls_key' <<<"$err" || fail "--tls_cert alone: --tls_key not named: $err"
cli --tls_ca "$certs/nope.pem" list
expect_rc 2 "--tls_ca missing file"
grep -q -- '--tls_ca' <<<"$err" || fail "--tls_ca missing: flag not named: $err"
cli --tls_ca "$certs/openssl.cnf" list
expect_rc 2 "--tls_ca not PEM"

# --- HTTPS with curl, when it is installed.
if command -v curl >/dev/null; then
  http_port=$(sed -n 's/.*http gateway serving .* port=\([0-9][0-9]*\) .*/\1/p' "$log" | head -n 1)
  body=$(curl -s --cacert "$certs/ca.pem" --cert "$certs/client.pem" \
    --key "$certs/client.key" "https://127.0.0.1:$http_port/healthz")
  [[ "$body" == "ok" ]] || fail "curl https /healthz: '$body'"
  curl -s --cacert "$certs/ca.pem" "https://127.0.0.1:$http_port/healthz" >/dev/null &&
    fail "curl without a client certificate was served"
fi

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "PASS"
