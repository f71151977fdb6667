#!/usr/bin/env bash
# Container entrypoint of impulsed: maps IMPULSE_* environment variables to
# impulsed flags, then exec's impulsed (so it is PID 1's successor and gets
# SIGTERM directly: docker stop, compose down and Kubernetes all drain it).
# Arguments are passed through after the generated flags; a flag given as an
# argument wins (the variable for it is then not turned into a flag).
#
# Variables (empty or unset = impulsed's default unless said otherwise):
#   IMPULSE_LISTEN_HOST       address both front-ends bind (default 0.0.0.0)
#   IMPULSE_GRPC_PORT         gRPC port (default 50051)
#   IMPULSE_HTTP_PORT         REST/health port (default 8080; "off" = no HTTP)
#   IMPULSE_DATA_DIR          --data_dir (default /var/lib/impulse)
#   IMPULSE_AUTH_TOKENS       --auth_tokens FILE of "TENANT TOKEN" lines
#   IMPULSE_INSECURE          1/true: --insecure, serve without tokens
#   IMPULSE_TLS_CERT/_KEY     --tls_cert/--tls_key (PEM files)
#   IMPULSE_TLS_CLIENT_CA     --tls_client_ca (mutual TLS)
#   IMPULSE_CLUSTER_REDIS     --cluster_redis=redis://HOST:PORT (cluster mode)
#   IMPULSE_CLUSTER_LEASE_MS  --cluster_lease_ms (same value on every replica)
#   IMPULSE_CLUSTER_ADVERTISE --cluster_advertise=HOST:PORT (where the other
#                             replicas reach this one; Kubernetes: the pod IP)
#   IMPULSE_CLUSTER_PEER_CA   --cluster_peer_ca (CA of the replicas' TLS certs)
#   IMPULSE_DRAIN_TIMEOUT_MS  --drain_timeout_ms
#   IMPULSE_LOG_LEVEL IMPULSE_CPU_THREADS IMPULSE_IO_THREADS IMPULSE_MAX_RUNNING
#   IMPULSE_MAX_QUEUED IMPULSE_TENANT_MAX_QUEUED IMPULSE_TENANT_MAX_RUNNING
#   IMPULSE_USE_GPU IMPULSE_JOURNAL IMPULSE_JOURNAL_SYNC IMPULSE_RETENTION
#   IMPULSE_RETENTION_MAX_JOBS IMPULSE_MAX_DATASET_BYTES
#   IMPULSE_HTTP_MAX_BODY_BYTES IMPULSE_RESULT_CACHE_BYTES IMPULSE_HEAP_TRIM_MS
#                             the impulsed flag of the same name
#   IMPULSED_BIN              the binary (default /usr/local/bin/impulsed)
#
# A container must bind beyond loopback to be reachable, and impulsed refuses
# that without --auth_tokens unless --insecure is given. This script does not
# choose for you: with neither IMPULSE_AUTH_TOKENS nor IMPULSE_INSECURE set it
# stops with an explanation (exit 64) instead of starting an open server.
set -euo pipefail

die() {
  echo "entrypoint: $*" >&2
  exit 64
}

bin="${IMPULSED_BIN:-/usr/local/bin/impulsed}"
[[ -x "$bin" ]] || die "impulsed not found or not executable at '$bin' (IMPULSED_BIN)"

passed=("$@")
# True when the caller passed --NAME or --NAME=... as an argument.
given() {
  local a
  for a in "${passed[@]+"${passed[@]}"}"; do
    [[ "$a" == "--$1" || "$a" == "--$1="* ]] && return 0
  done
  return 1
}

flags=()
add() {  # add FLAG VALUE: --FLAG=VALUE unless passed as an argument
  # (CLI11 refuses a flag given twice, and reads "--FLAG=" as "--FLAG" taking
  # the next argument, so an empty value goes as two words.)
  given "$1" && return 0
  if [[ -z "$2" ]]; then flags+=("--$1" ""); else flags+=("--$1=$2"); fi
}
add_env() {  # add_env FLAG VAR: --FLAG=$VAR when VAR is set and not empty
  local value="${!2:-}"
  [[ -n "$value" ]] && add "$1" "$value"
  return 0
}
is_true() {
  case "${1,,}" in 1 | true | yes | on) return 0 ;; *) return 1 ;; esac
}

host="${IMPULSE_LISTEN_HOST:-0.0.0.0}"
[[ "$host" == *:* && "$host" != \[* ]] && host="[$host]"  # bare IPv6
grpc_port="${IMPULSE_GRPC_PORT:-50051}"
http_port="${IMPULSE_HTTP_PORT:-8080}"
[[ "$grpc_port" =~ ^[0-9]+$ ]] || die "IMPULSE_GRPC_PORT='$grpc_port' is not a port number"
add grpc_listen "$host:$grpc_port"
if [[ "${http_port,,}" == off ]]; then
  add http_listen ""
else
  [[ "$http_port" =~ ^[0-9]+$ ]] || die "IMPULSE_HTTP_PORT='$http_port' is not a port number (or 'off')"
  add http_listen "$host:$http_port"
fi
add data_dir "${IMPULSE_DATA_DIR:-/var/lib/impulse}"

# Exposure: tokens, mutual TLS, an explicit --insecure, or a loopback-only bind.
insecure=false
if is_true "${IMPULSE_INSECURE:-}" || given insecure; then insecure=true; fi
if [[ -n "${IMPULSE_AUTH_TOKENS:-}" ]]; then
  [[ -r "$IMPULSE_AUTH_TOKENS" ]] || die "IMPULSE_AUTH_TOKENS='$IMPULSE_AUTH_TOKENS' is not a readable file"
  add auth_tokens "$IMPULSE_AUTH_TOKENS"
elif ! given auth_tokens && [[ "$insecure" == false ]] &&
  [[ -z "${IMPULSE_TLS_CLIENT_CA:-}" ]] && ! given tls_client_ca; then
  # (Mutual TLS authenticates every client, so impulsed allows it too.)
  case "$host" in
    127.* | localhost | "[::1]") ;;
    *)
      die "refusing to serve on $host without tokens. Set IMPULSE_AUTH_TOKENS=/path/to/tokens" \
        "(lines 'TENANT TOKEN'), or IMPULSE_INSECURE=1 to let anyone who can connect use" \
        "the server, or IMPULSE_LISTEN_HOST=127.0.0.1 to stay on loopback."
      ;;
  esac
fi
if [[ "$insecure" == true ]] && ! given insecure; then
  echo "entrypoint: WARNING: IMPULSE_INSECURE is set: serving on $host without" \
    "authentication; anyone who can connect may use this server" >&2
  flags+=("--insecure")
fi

if [[ -n "${IMPULSE_TLS_CERT:-}" || -n "${IMPULSE_TLS_KEY:-}" ]]; then
  [[ -n "${IMPULSE_TLS_CERT:-}" && -n "${IMPULSE_TLS_KEY:-}" ]] ||
    die "IMPULSE_TLS_CERT and IMPULSE_TLS_KEY go together"
fi
add_env tls_cert IMPULSE_TLS_CERT
add_env tls_key IMPULSE_TLS_KEY
add_env tls_client_ca IMPULSE_TLS_CLIENT_CA
# Cluster mode (Redis): passed only when set, so an impulsed without cluster
# support still starts in the embedded (SQLite) mode.
add_env cluster_redis IMPULSE_CLUSTER_REDIS
add_env cluster_lease_ms IMPULSE_CLUSTER_LEASE_MS
add_env cluster_advertise IMPULSE_CLUSTER_ADVERTISE
add_env cluster_peer_ca IMPULSE_CLUSTER_PEER_CA
add_env drain_timeout_ms IMPULSE_DRAIN_TIMEOUT_MS
add_env heap_trim_ms IMPULSE_HEAP_TRIM_MS
add_env log_level IMPULSE_LOG_LEVEL
add_env cpu_threads IMPULSE_CPU_THREADS
add_env io_threads IMPULSE_IO_THREADS
add_env max_running IMPULSE_MAX_RUNNING
add_env max_queued IMPULSE_MAX_QUEUED
add_env tenant_max_queued IMPULSE_TENANT_MAX_QUEUED
add_env tenant_max_running IMPULSE_TENANT_MAX_RUNNING
add_env use_gpu IMPULSE_USE_GPU
add_env journal IMPULSE_JOURNAL
add_env journal_sync IMPULSE_JOURNAL_SYNC
add_env retention IMPULSE_RETENTION
add_env retention_max_jobs IMPULSE_RETENTION_MAX_JOBS
add_env max_dataset_bytes IMPULSE_MAX_DATASET_BYTES
add_env http_max_body_bytes IMPULSE_HTTP_MAX_BODY_BYTES
add_env result_cache_bytes IMPULSE_RESULT_CACHE_BYTES

# Tokens and keys are file paths, never values, so this line holds no secret.
echo "entrypoint: exec $bin ${flags[*]} $*" >&2
exec "$bin" "${flags[@]}" "$@"
