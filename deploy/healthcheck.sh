#!/usr/bin/env bash
# Container health check: GET /healthz (or the path given as $1, e.g. /readyz)
# on this container's own REST port, the same variables as entrypoint.sh.
# HTTPS when IMPULSE_TLS_CERT is set (the server's own certificate is not
# verified: this only asks whether the local process answers). Exits 0 when
# the answer is 200, else 1. Needs curl (installed in the runtime image).
# With mutual TLS (IMPULSE_TLS_CLIENT_CA) the server asks for a client
# certificate: set IMPULSE_HEALTHCHECK_CERT/_KEY to one signed by that CA.
set -uo pipefail
path="${1:-/healthz}"
port="${IMPULSE_HTTP_PORT:-8080}"
if [[ "${port,,}" == off ]]; then
  echo "healthcheck: IMPULSE_HTTP_PORT=off, no HTTP endpoint to check" >&2
  exit 1
fi
scheme=http
extra=()
if [[ -n "${IMPULSE_TLS_CERT:-}" ]]; then
  scheme=https
  extra+=(--insecure)
  if [[ -n "${IMPULSE_HEALTHCHECK_CERT:-}" ]]; then
    extra+=(--cert "$IMPULSE_HEALTHCHECK_CERT" --key "${IMPULSE_HEALTHCHECK_KEY:-}")
  fi
fi
curl --silent --show-error --fail --noproxy "*" --max-time "${IMPULSE_HEALTHCHECK_TIMEOUT:-3}" \
  --output /dev/null "${extra[@]+"${extra[@]}"}" "$scheme://127.0.0.1:$port$path" || exit 1  # Docker reserves 2
